import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gitChangedFiles, initGitRepo } from './git-workspace.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cfn-git-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('git workspace helpers', () => {
  it('lists nothing right after the initial commit', async () => {
    await writeFile(path.join(dir, 'existing.txt'), 'committed');
    await initGitRepo(dir);
    expect(await gitChangedFiles(dir)).toEqual([]);
  });

  it('lists added, modified, deleted and untracked files, sorted', async () => {
    await writeFile(path.join(dir, 'modify.txt'), 'v1');
    await writeFile(path.join(dir, 'delete.txt'), 'bye');
    await writeFile(path.join(dir, 'keep.txt'), 'same');
    await initGitRepo(dir);

    await writeFile(path.join(dir, 'modify.txt'), 'v2');
    await rm(path.join(dir, 'delete.txt'));
    await mkdir(path.join(dir, 'new', 'deeper'), { recursive: true });
    await writeFile(path.join(dir, 'new', 'deeper', 'untracked file.ts'), 'x');
    await writeFile(path.join(dir, 'added.txt'), 'a');
    await writeFile(path.join(dir, 'ünïcode.md'), 'u');

    expect(await gitChangedFiles(dir)).toEqual([
      'added.txt',
      'delete.txt',
      'modify.txt',
      'new/deeper/untracked file.ts',
      'ünïcode.md',
    ]);
  });

  it('lists both sides of a staged rename and staged additions', async () => {
    await writeFile(path.join(dir, 'old-name.txt'), 'content');
    await initGitRepo(dir);
    execFileSync('git', ['mv', 'old-name.txt', 'new-name.txt'], { cwd: dir });
    await writeFile(path.join(dir, 'staged.txt'), 's');
    execFileSync('git', ['add', 'staged.txt'], { cwd: dir });
    expect(await gitChangedFiles(dir)).toEqual(['new-name.txt', 'old-name.txt', 'staged.txt']);
  });
});
