// Loads the agent catalogue: the built-in library, then the user's agent directory (recursively),
// whose files override built-ins by name. A bad file is reported and skipped, never fatal.
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentDefinition } from '../domain/agent-definition.js';
import { AgentFileError, parseAgentFile } from './parse-agent-file.js';

/** The built-in library; the build copies it next to the compiled code (scripts/postbuild.mjs). */
export const BUILTIN_AGENTS_DIR = fileURLToPath(new URL('./library', import.meta.url));

export const MAX_AGENT_FILE_BYTES = 256 * 1024;

export interface LoadAgentsOptions {
  builtinDir: string;
  /** The user's agents (e.g. a `.claude/agents` folder); missing is fine. */
  userDir?: string | undefined;
}

export interface AgentProblem {
  /** The file (or directory) path. */
  source: string;
  reason: string;
}

export interface AgentOverride {
  name: string;
  /** The user file that replaced the built-in agent of that name. */
  source: string;
}

export interface LoadedAgents {
  agents: Map<string, AgentDefinition>;
  problems: AgentProblem[];
  /** Built-ins replaced by a user file (not problems; worth a log line). */
  overrides: AgentOverride[];
}

type Loaded = { file: string; agent: AgentDefinition } | { file: string; problem: AgentProblem };

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

const isAgentFileName = (name: string) => name.endsWith('.md');

/**
 * Every `*.md` file under `dir`, in sorted path order; symlinks are followed only while they stay
 * inside `dir`. Returns undefined when `dir` does not exist.
 */
async function collectAgentFiles(
  dir: string,
  problems: AgentProblem[],
): Promise<string[] | undefined> {
  let root: string;
  try {
    root = await fs.realpath(dir);
    if (!(await fs.stat(root)).isDirectory()) {
      problems.push({ source: dir, reason: 'is not a directory' });
      return [];
    }
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    problems.push({ source: dir, reason: `cannot read the directory: ${errorMessage(err)}` });
    return [];
  }

  const files: string[] = [];
  // Real paths of the directories walked, so a symlinked directory is never walked twice (or in a loop).
  const visited = new Set<string>([root]);

  async function walk(shown: string, real: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(shown, { withFileTypes: true });
    } catch (err) {
      problems.push({ source: shown, reason: `cannot read the directory: ${errorMessage(err)}` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const entryPath = path.join(shown, entry.name);
      if (entry.isDirectory()) {
        const entryReal = path.join(real, entry.name);
        if (visited.has(entryReal)) continue;
        visited.add(entryReal);
        await walk(entryPath, entryReal);
      } else if (entry.isFile()) {
        if (isAgentFileName(entry.name)) files.push(entryPath);
      } else if (entry.isSymbolicLink()) {
        await followLink(entryPath, entry.name);
      }
    }
  }

  async function followLink(linkPath: string, name: string): Promise<void> {
    let target: string;
    let isDir: boolean;
    try {
      target = await fs.realpath(linkPath);
      isDir = (await fs.stat(target)).isDirectory();
    } catch (err) {
      if (isAgentFileName(name)) {
        problems.push({ source: linkPath, reason: `broken symlink: ${errorMessage(err)}` });
      }
      return;
    }
    if (!isDir && !isAgentFileName(name)) return;
    if (!isInside(root, target)) {
      problems.push({
        source: linkPath,
        reason: `symlink points outside the agents directory (to ${target}); skipped`,
      });
      return;
    }
    if (!isDir) {
      files.push(linkPath);
    } else if (!visited.has(target)) {
      visited.add(target);
      await walk(linkPath, target);
    }
  }

  await walk(dir, root);
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function readAgentText(file: string): Promise<string> {
  const { size } = await fs.stat(file);
  const tooLarge = (bytes: number) =>
    new AgentFileError(
      file,
      `the file is ${bytes} bytes, larger than the ${MAX_AGENT_FILE_BYTES / 1024} KiB limit`,
    );
  if (size > MAX_AGENT_FILE_BYTES) throw tooLarge(size);
  const bytes = await fs.readFile(file);
  // It may have grown since the stat.
  if (bytes.length > MAX_AGENT_FILE_BYTES) throw tooLarge(bytes.length);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new AgentFileError(file, 'the file is not valid UTF-8 text', { cause: err });
  }
}

async function loadFile(file: string, source: string): Promise<Loaded> {
  try {
    const agent = parseAgentFile(await readAgentText(file), file);
    return { file, agent: { ...agent, source } };
  } catch (err) {
    const reason = err instanceof AgentFileError ? err.reason : errorMessage(err);
    return { file, problem: { source: file, reason } };
  }
}

export async function loadAgents(options: LoadAgentsOptions): Promise<LoadedAgents> {
  const agents = new Map<string, AgentDefinition>();
  const problems: AgentProblem[] = [];
  const overrides: AgentOverride[] = [];

  const builtinFiles = await collectAgentFiles(options.builtinDir, problems);
  if (builtinFiles === undefined) {
    problems.push({
      source: options.builtinDir,
      reason: 'the built-in agent library directory does not exist',
    });
  }
  const builtinSeen = new Map<string, string>();
  for (const loaded of await Promise.all((builtinFiles ?? []).map((f) => loadFile(f, 'builtin')))) {
    if ('problem' in loaded) {
      problems.push(loaded.problem);
      continue;
    }
    const { name } = loaded.agent;
    const first = builtinSeen.get(name);
    if (first !== undefined) {
      problems.push({
        source: loaded.file,
        reason: `duplicate name "${name}": also defined in ${first}`,
      });
      continue;
    }
    builtinSeen.set(name, loaded.file);
    agents.set(name, loaded.agent);
  }

  const userFiles = options.userDir ? await collectAgentFiles(options.userDir, problems) : [];
  const userSeen = new Map<string, string>();
  for (const loaded of await Promise.all((userFiles ?? []).map((f) => loadFile(f, f)))) {
    if ('problem' in loaded) {
      problems.push(loaded.problem);
      continue;
    }
    const { name } = loaded.agent;
    const first = userSeen.get(name);
    if (first !== undefined) {
      problems.push({
        source: loaded.file,
        reason: `duplicate name "${name}": also defined in ${first}`,
      });
      continue;
    }
    userSeen.set(name, loaded.file);
    if (builtinSeen.has(name)) overrides.push({ name, source: loaded.file });
    agents.set(name, loaded.agent);
  }

  return { agents, problems, overrides };
}
