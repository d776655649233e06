import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestSandbox } from '../../../test/support/sandbox.js';
import { WorkspaceError, type Workspace } from '../../ports/workspace.js';
import { createUnconfinedSandbox } from '../sandbox/unconfined-sandbox.js';
import { createFsWorkspace } from './fs-workspace.js';

// eslint-disable-next-line no-restricted-properties -- the test plants a secret in this process's environment to prove commands never see it
const serviceEnv = process.env;

let base: string;
let rootDir: string;
let outside: string;
let ws: Workspace;

beforeEach(async () => {
  base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'cfn-ws-')));
  rootDir = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(rootDir);
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.txt'), 'top secret');
  // Unconfined: these tests are about the command run itself (the sandbox: test/sandbox/).
  ws = await createFsWorkspace(rootDir, { sandbox: createUnconfinedSandbox(unconfinedEnv) });
});

const unconfinedEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/nonexistent-home' };

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WorkspaceError) return error.code;
    throw error;
  }
  return 'OK';
}

/** Alive means signalable and not a zombie (PID 1 here may never reap orphans). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Waits (bounded) for a signalled process to finish dying. Node offers no event for the exit of a
 * process that is not its child, and the kernel closes its pipes a moment before it is a zombie.
 */
async function waitUntilGone(pid: number, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (isAlive(pid)) {
    if (performance.now() > deadline) throw new Error(`process ${pid} still alive`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('files', () => {
  it('round-trips writes, reads and listings', async () => {
    await ws.writeFile('a.txt', 'alpha');
    await ws.writeFile('src/deep/b.ts', 'export const b = 1;\n');
    await ws.writeFile('./src/../c.md', '# c');
    await mkdir(path.join(rootDir, '.git'));
    await writeFile(path.join(rootDir, '.git', 'HEAD'), 'ref');
    await mkdir(path.join(rootDir, 'node_modules', 'x'), { recursive: true });

    expect(await ws.readFile('a.txt')).toBe('alpha');
    expect(await ws.readFile('src/deep/b.ts')).toBe('export const b = 1;\n');
    expect(await readFile(path.join(rootDir, 'c.md'), 'utf8')).toBe('# c');
    expect(await ws.listFiles()).toEqual([
      { path: 'a.txt', type: 'file', size: 5 },
      { path: 'c.md', type: 'file', size: 3 },
      { path: 'src', type: 'dir', size: 0 },
      { path: 'src/deep', type: 'dir', size: 0 },
      { path: 'src/deep/b.ts', type: 'file', size: 20 },
    ]);
    expect((await ws.listFiles('src')).map((e) => e.path)).toEqual(['src/deep', 'src/deep/b.ts']);
    // No temp files are left behind by atomic writes.
    expect((await readdir(rootDir)).sort()).toEqual([
      '.git',
      'a.txt',
      'c.md',
      'node_modules',
      'src',
    ]);
  });

  it('overwrites atomically and keeps the file mode', async () => {
    await writeFile(path.join(rootDir, 'run.sh'), 'old', { mode: 0o755 });
    await ws.writeFile('run.sh', 'new');
    expect(await ws.readFile('run.sh')).toBe('new');
    expect(
      execFileSync('stat', ['-c', '%a', path.join(rootDir, 'run.sh')], { encoding: 'utf8' }).trim(),
    ).toBe('755');
  });

  it('reports missing files, directories and oversized files', async () => {
    const small = await createFsWorkspace(rootDir, { maxFileBytes: 10 });
    await writeFile(path.join(rootDir, 'big.txt'), 'x'.repeat(11));
    await writeFile(path.join(rootDir, 'ok.txt'), 'x'.repeat(10));
    expect(await codeOf(small.readFile('big.txt'))).toBe('TOO_LARGE');
    expect(await small.readFile('ok.txt')).toBe('x'.repeat(10));
    expect(await codeOf(small.writeFile('w.txt', 'y'.repeat(11)))).toBe('TOO_LARGE');
    expect(await codeOf(ws.readFile('nope.txt'))).toBe('NOT_FOUND');
    expect(await codeOf(ws.listFiles('nope'))).toBe('NOT_FOUND');
    await mkdir(path.join(rootDir, 'dir'));
    expect(await codeOf(ws.readFile('dir'))).toBe('IO');
    expect(await codeOf(ws.writeFile('dir', 'x'))).toBe('IO');
    expect(await codeOf(ws.writeFile('', 'x'))).toBe('IO');
    execFileSync('mkfifo', [path.join(rootDir, 'fifo')]);
    expect(await codeOf(ws.readFile('fifo'))).toBe('IO');
  });

  it('follows symbolic links that stay inside the workspace', async () => {
    await ws.writeFile('real/file.txt', 'inside');
    await symlink(path.join(rootDir, 'real'), path.join(rootDir, 'alias'));
    await symlink('real/file.txt', path.join(rootDir, 'link.txt'));
    expect(await ws.readFile('alias/file.txt')).toBe('inside');
    expect(await ws.readFile('link.txt')).toBe('inside');
    await ws.writeFile('alias/new.txt', 'via alias');
    expect(await readFile(path.join(rootDir, 'real', 'new.txt'), 'utf8')).toBe('via alias');
    expect((await ws.listFiles()).map((e) => `${e.path}:${e.type}`)).toEqual([
      'alias:dir',
      'link.txt:file',
      'real:dir',
      'real/file.txt:file',
      'real/new.txt:file',
    ]);
  });
});

describe('confinement', () => {
  async function outsideTree(): Promise<string[]> {
    return (await readdir(base, { recursive: true })).map(String).sort();
  }

  it.each([
    '../x',
    'a/../../x',
    '/etc/passwd',
    path.join(os.tmpdir(), 'cfn-abs-x'),
    './a/./../../x',
    'a/..\u0000',
    'x\u0000/../../y',
    '..',
    '../outside/secret.txt',
  ])('rejects %j with ESCAPE and writes nothing', async (relPath) => {
    const before = await outsideTree();
    expect(await codeOf(ws.writeFile(relPath, 'pwned'))).toBe('ESCAPE');
    expect(await codeOf(ws.readFile(relPath))).toBe('ESCAPE');
    expect(await codeOf(ws.listFiles(relPath))).toBe('ESCAPE');
    expect(await outsideTree()).toEqual(before);
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    expect(existsSync(path.join(base, 'x'))).toBe(false);
  });

  it('rejects a symlinked file pointing outside (read and write)', async () => {
    await symlink('/etc/passwd', path.join(rootDir, 'passwd'));
    await symlink(path.join(outside, 'secret.txt'), path.join(rootDir, 'secret'));
    expect(await codeOf(ws.readFile('passwd'))).toBe('ESCAPE');
    expect(await codeOf(ws.readFile('secret'))).toBe('ESCAPE');
    // Writes go through a link to a file of ours outside the root, never to /etc/passwd.
    expect(await codeOf(ws.writeFile('secret', 'pwned'))).toBe('ESCAPE');
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
  });

  it('rejects a symlinked directory pointing outside (read, write, list)', async () => {
    await symlink(outside, path.join(rootDir, 'out'));
    await mkdir(path.join(rootDir, 'sub'));
    await symlink('../../outside', path.join(rootDir, 'sub', 'rel-out'));
    for (const dir of ['out', 'sub/rel-out']) {
      expect(await codeOf(ws.readFile(`${dir}/secret.txt`))).toBe('ESCAPE');
      expect(await codeOf(ws.writeFile(`${dir}/new.txt`, 'pwned'))).toBe('ESCAPE');
      expect(await codeOf(ws.writeFile(`${dir}/deep/new.txt`, 'pwned'))).toBe('ESCAPE');
      expect(await codeOf(ws.listFiles(dir))).toBe('ESCAPE');
    }
    expect((await readdir(outside)).sort()).toEqual(['secret.txt']);
    // The whole-workspace listing neither shows nor descends into them.
    expect((await ws.listFiles()).map((e) => e.path)).toEqual(['sub']);
  });

  it('rejects writes through dangling symlinks pointing outside without creating the target', async () => {
    await symlink(path.join(outside, 'not-yet.txt'), path.join(rootDir, 'dangling'));
    await symlink(path.join(outside, 'new-dir'), path.join(rootDir, 'dangling-dir'));
    await symlink('missing/../../../outside/hop.txt', path.join(rootDir, 'tricky'));
    expect(await codeOf(ws.writeFile('dangling', 'pwned'))).toBe('ESCAPE');
    expect(await codeOf(ws.writeFile('dangling-dir/x.txt', 'pwned'))).toBe('ESCAPE');
    expect(await codeOf(ws.writeFile('tricky', 'pwned'))).toBe('ESCAPE');
    expect(await codeOf(ws.readFile('dangling'))).toBe('ESCAPE');
    expect((await readdir(outside)).sort()).toEqual(['secret.txt']);
  });

  it('stays inside the root or throws ESCAPE for arbitrary relative paths', async () => {
    await symlink(outside, path.join(rootDir, 'out'));
    const segment = fc.constantFrom('a', 'b', '..', '.', 'b/c', '', 'out');
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { maxLength: 8 }), async (segments) => {
        const relPath = [...segments, 'f.txt'].join('/');
        // Model: lexical normalisation; escaping means an absolute path, climbing above the root,
        // or entering `out`.
        const stack: string[] = [];
        let climbs = false;
        for (const s of relPath.split('/')) {
          if (s === '' || s === '.') continue;
          if (s === '..') climbs ||= stack.pop() === undefined;
          else stack.push(s);
        }
        const expectEscape = relPath.startsWith('/') || climbs || stack[0] === 'out';
        const code = await codeOf(ws.writeFile(relPath, relPath));
        expect(code).toBe(expectEscape ? 'ESCAPE' : 'OK');
        if (code === 'OK') {
          const written = await realpath(path.join(rootDir, ...stack));
          expect(written.startsWith(rootDir + path.sep)).toBe(true);
          expect(await readFile(written, 'utf8')).toBe(relPath);
          expect(await ws.readFile(relPath)).toBe(relPath);
        }
      }),
      { numRuns: 150 },
    );
    expect((await readdir(outside)).sort()).toEqual(['secret.txt']);
    expect((await readdir(base)).sort()).toEqual(['outside', 'root']);
  });
});

describe('the workspace itself', () => {
  it('refuses a root that is, or is under, a symbolic link, creating nothing', async () => {
    await symlink(outside, path.join(base, 'linked'));
    expect(await codeOf(createFsWorkspace(path.join(base, 'linked')))).toBe('ESCAPE');
    expect(await codeOf(createFsWorkspace(path.join(base, 'linked', 'new')))).toBe('ESCAPE');
    expect(existsSync(path.join(outside, 'new'))).toBe(false);
  });

  it('gives its files to the sandbox user, so commands can change what write_file wrote', async () => {
    const sandbox = await createTestSandbox(path.join(base, 'support'));
    await writeFile(path.join(rootDir, 'before.txt'), 'from the operator');
    await symlink(path.join(outside, 'secret.txt'), path.join(rootDir, 'to-outside'));
    const outsideOwner = statSync(path.join(outside, 'secret.txt')).uid;
    const sandboxed = await createFsWorkspace(rootDir, { sandbox });
    await sandboxed.writeFile('deep/dir/a.txt', 'from write_file');
    const result = await sandboxed.runCommand(
      'echo more >> deep/dir/a.txt && echo more >> before.txt && touch deep/dir/new',
      { timeoutMs: 10_000 },
    );
    expect(result).toMatchObject({ exitCode: 0, output: '' });
    expect(await readFile(path.join(rootDir, 'deep', 'dir', 'a.txt'), 'utf8')).toBe(
      'from write_filemore\n',
    );
    if (sandbox.owner) {
      for (const p of ['', 'before.txt', 'deep', 'deep/dir', 'deep/dir/a.txt'])
        expect(statSync(path.join(rootDir, p)).uid, p).toBe(sandbox.owner.uid);
    }
    // The link was given, never what it points to.
    expect(statSync(path.join(outside, 'secret.txt')).uid).toBe(outsideOwner);
  });
});

describe('snapshot', () => {
  it('reports added, modified and deleted files, sorted', async () => {
    await ws.writeFile('keep.txt', 'same');
    await ws.writeFile('mod.txt', 'v1');
    await ws.writeFile('gone/del.txt', 'bye');
    const before = await ws.snapshot();
    expect(await ws.changesSince(before)).toEqual([]);

    await ws.writeFile('mod.txt', 'v2');
    await rm(path.join(rootDir, 'gone'), { recursive: true });
    await ws.writeFile('z/new.txt', 'hi');
    await ws.writeFile('a-new.txt', 'hi');
    await mkdir(path.join(rootDir, 'node_modules'));
    await writeFile(path.join(rootDir, 'node_modules', 'ignored.js'), '');
    await mkdir(path.join(rootDir, '.git'));
    await writeFile(path.join(rootDir, '.git', 'index'), '');
    execFileSync('mkfifo', [path.join(rootDir, 'pipe')]);

    expect(await ws.changesSince(before)).toEqual([
      'a-new.txt',
      'gone/del.txt',
      'mod.txt',
      'z/new.txt',
    ]);
    expect(Object.keys((await ws.snapshot()).files).sort()).toEqual([
      'a-new.txt',
      'keep.txt',
      'mod.txt',
      'z/new.txt',
    ]);
  });
});

describe('runCommand', () => {
  const opts = { timeoutMs: 10_000 };

  it('captures the exit code and interleaved output in the workspace', async () => {
    await ws.writeFile('hello.txt', 'hi there');
    const result = await ws.runCommand(
      'cat hello.txt; echo; echo to-err >&2; echo to-out; pwd; exit 3',
      opts,
    );
    expect(result).toMatchObject({ exitCode: 3, signal: null, timedOut: false });
    expect(result.output).toBe(`hi there\nto-err\nto-out\n${rootDir}\n`);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect((await ws.runCommand('true', opts)).exitCode).toBe(0);
  });

  it('keeps the tail of long output and marks the truncation', async () => {
    const result = await ws.runCommand('seq 1 100000', { ...opts, maxOutputBytes: 1000 });
    expect(result.exitCode).toBe(0);
    expect(result.output).toMatch(/^\[output truncated: first \d+ bytes omitted\]\n/);
    expect(result.output.endsWith('99999\n100000\n')).toBe(true);
    const body = result.output.slice(result.output.indexOf('\n') + 1);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(1000);
  });

  it('runs with a minimal environment that does not leak the service’s variables', async () => {
    serviceEnv.CFN_SECRET_TEST = 'leaked-value';
    try {
      const result = await ws.runCommand('env', { ...opts, env: { EXTRA_VAR: 'given' } });
      expect(result.output).not.toContain('CFN_SECRET_TEST');
      expect(result.output).not.toContain('leaked-value');
      expect(result.output).toContain('EXTRA_VAR=given');
      expect(result.output).toContain('HOME=/nonexistent-home');
      expect(result.output).toContain('PATH=');
    } finally {
      delete serviceEnv.CFN_SECRET_TEST;
    }
  });

  async function startSleeper(
    script: string,
    runOpts: { timeoutMs: number; signal?: AbortSignal },
  ) {
    const fifo = path.join(base, `pid-${Math.random().toString(16).slice(2)}.fifo`);
    execFileSync('mkfifo', [fifo]);
    const running = ws.runCommand(script.replaceAll('FIFO', fifo), runOpts);
    // Opening the FIFO blocks until the script writes the pid: no polling needed.
    const pid = Number((await readFile(fifo, 'utf8')).trim());
    expect(pid).toBeGreaterThan(0);
    return { running, pid };
  }

  it('kills the whole process group on timeout, grandchildren included', async () => {
    const { running, pid } = await startSleeper('sleep 30 & echo $! > FIFO; wait', {
      timeoutMs: 1_000,
    });
    expect(isAlive(pid)).toBe(true);
    const result = await running;
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeNull();
    expect(result.signal).toBe('SIGTERM');
    await waitUntilGone(pid);
  });

  it('kills the whole process group on abort within 2 s, escalating to SIGKILL', async () => {
    const controller = new AbortController();
    const { running, pid } = await startSleeper("trap '' TERM; sleep 30 & echo $! > FIFO; wait", {
      timeoutMs: 30_000,
      signal: controller.signal,
    });
    expect(isAlive(pid)).toBe(true);
    const abortedAt = performance.now();
    controller.abort();
    const result = await running;
    expect(performance.now() - abortedAt).toBeLessThan(2_000);
    expect(result.timedOut).toBe(false);
    expect(result.signal).toBe('SIGKILL');
    await waitUntilGone(pid);
  });

  it('ends background processes the command leaves behind', async () => {
    const { running, pid } = await startSleeper('sleep 30 >/dev/null 2>&1 & echo $! > FIFO', opts);
    const result = await running;
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    await waitUntilGone(pid);
  });

  it('still resolves when a process that left the group keeps the output pipe open', async () => {
    // The .ready FIFO makes the shell exit only once the escapee is in its own session.
    const { running, pid } = await startSleeper(
      "mkfifo FIFO.ready; setsid sh -c 'echo $$ > FIFO; echo > FIFO.ready; exec sleep 30' & " +
        'read line < FIFO.ready; echo done',
      opts,
    );
    try {
      const result = await running;
      expect(result).toMatchObject({ exitCode: 0, timedOut: false });
      expect(result.output).toBe('done\n');
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it('resolves at once when aborted before start', async () => {
    const result = await ws.runCommand('touch ran', {
      timeoutMs: 1_000,
      signal: AbortSignal.abort(),
    });
    expect(result.exitCode).toBeNull();
    expect(existsSync(path.join(rootDir, 'ran'))).toBe(false);
  });

  it('refuses every command when it has no sandbox', async () => {
    const bare = await createFsWorkspace(rootDir);
    expect(await codeOf(bare.runCommand('true', opts))).toBe('NO_SANDBOX');
  });

  it('enforces the allow list and rejects shell metacharacters', async () => {
    const limited = await createFsWorkspace(rootDir, {
      commandAllowList: ['echo', 'ls'],
      sandbox: createUnconfinedSandbox(unconfinedEnv),
    });
    expect((await limited.runCommand('echo hello world', opts)).output).toBe('hello world\n');
    expect((await limited.runCommand('  ls', opts)).exitCode).toBe(0);
    for (const line of [
      'rm -rf x',
      'touch x',
      '',
      'echo hi; touch x',
      'echo hi && touch x',
      'echo hi | tee x',
      'echo hi > x',
      'echo < x',
      'echo $(touch x)',
      'echo `touch x`',
      'echo hi\ntouch x',
      'echo hi &',
      '"touch" x',
      'X=1 touch x',
    ]) {
      expect(await codeOf(limited.runCommand(line, opts)), line).toBe('NOT_ALLOWED');
    }
    expect(existsSync(path.join(rootDir, 'x'))).toBe(false);
  });
});
