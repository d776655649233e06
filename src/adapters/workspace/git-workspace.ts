// Git helpers for workspaces: make a directory a repository with a first commit, and list what
// changed since the last commit. git runs through execFile (no shell), so paths are never parsed.

import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAX_GIT_OUTPUT_BYTES = 64 * 1024 * 1024;

async function git(dir: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', args, {
    cwd: dir,
    maxBuffer: MAX_GIT_OUTPUT_BYTES,
    encoding: 'utf8',
  });
  return stdout;
}

/** `git init` in dir (created if missing), a local identity, and an initial commit of what is there. */
export async function initGitRepo(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await git(dir, ['init', '--quiet', '--initial-branch=main']);
  await git(dir, ['config', 'user.name', 'claude-flow-novice']);
  await git(dir, ['config', 'user.email', 'claude-flow-novice@localhost']);
  await git(dir, ['config', 'commit.gpgsign', 'false']);
  await git(dir, ['add', '--all']);
  await git(dir, ['commit', '--quiet', '--allow-empty', '--no-verify', '-m', 'Initial commit']);
}

/**
 * Paths (relative to the repository root, sorted) that differ from HEAD: modified, added,
 * deleted, and untracked files (each file inside an untracked directory); both sides of a rename.
 */
export async function gitChangedFiles(dir: string): Promise<string[]> {
  const out = await git(dir, [
    '-c',
    'core.quotePath=false',
    'status',
    '--porcelain=v1',
    '-z',
    '--untracked-files=all',
  ]);
  const tokens = out.split('\0');
  const changed = new Set<string>();
  for (let i = 0; i < tokens.length; i += 1) {
    const entry = tokens[i] ?? '';
    if (entry.length < 4) continue;
    const status = entry.slice(0, 2);
    changed.add(entry.slice(3));
    // With -z, a rename or copy is followed by its source path as the next token.
    if (status.includes('R') || status.includes('C')) {
      const source = tokens[i + 1];
      if (source !== undefined && source !== '') changed.add(source);
      i += 1;
    }
  }
  return [...changed].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
