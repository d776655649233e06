// The bubblewrap sandbox keeps the CommandResult promises of a command run (exit code, merged
// output tail, time limit, cancellation, nothing left running). The escapes: test/sandbox/.
import fs from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestSandbox,
  pidNamespaceMembers,
  sandboxWorkspace,
  signalFifo,
  waitUntilNamespaceEmpty,
} from '../../../test/support/sandbox.js';
import type { CommandSandbox, SandboxRunOptions } from '../../ports/sandbox.js';
import { createBwrapSandbox, selfTestSandbox } from './bwrap-sandbox.js';

// eslint-disable-next-line no-restricted-properties -- the test plants a secret in this process's environment to prove commands never see it
const serviceEnv = process.env;

let base: string;
let workspace: string;
let sandbox: CommandSandbox;

beforeAll(async () => {
  base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'cfn-bwrap-')));
  sandbox = await createTestSandbox(path.join(base, 'support'));
  workspace = sandboxWorkspace(sandbox, path.join(base, 'ws'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const opts = (extra: Partial<SandboxRunOptions> = {}): SandboxRunOptions => ({
  workspace,
  env: {},
  timeoutMs: 10_000,
  maxOutputBytes: 64 * 1024,
  network: false,
  ...extra,
});

/**
 * Starts `script` (which writes its PID namespace to a FIFO where it says NS) and waits for that,
 * so the test knows the sandbox is up without polling.
 */
async function startInSandbox(script: string, extra: Partial<SandboxRunOptions> = {}) {
  const fifo = signalFifo(sandbox, workspace);
  const running = sandbox.run(
    script.replaceAll('NS', `readlink /proc/self/ns/pid > ${fifo.name}`),
    opts(extra),
  );
  const ns = await fifo.read();
  expect(ns).toMatch(/^pid:\[\d+\]$/);
  return { running, ns };
}

describe('bwrap sandbox', () => {
  it('passes its self-test', async () => {
    await selfTestSandbox(sandbox, path.join(base, 'support'));
  });

  it('captures the exit code and interleaved output, in the workspace', async () => {
    fs.writeFileSync(path.join(workspace, 'hello.txt'), 'hi there');
    const result = await sandbox.run(
      'cat hello.txt; echo; echo to-err >&2; echo to-out; pwd; exit 3',
      opts(),
    );
    expect(result).toMatchObject({ exitCode: 3, signal: null, timedOut: false });
    expect(result.output).toBe(`hi there\nto-err\nto-out\n${workspace}\n`);
    // Absolute paths into the workspace resolve too (node, npm and git use them).
    expect((await sandbox.run(`cat ${workspace}/hello.txt`, opts())).output).toBe('hi there');
    expect((await sandbox.run('true', opts())).exitCode).toBe(0);
    // A signal inside is reported the shell's way (bwrap's init exits 128 + the signal).
    expect(await sandbox.run('kill -9 $$', opts())).toMatchObject({ exitCode: 137, signal: null });
  });

  it('keeps the tail of long output and marks the truncation', async () => {
    const result = await sandbox.run('seq 1 100000', opts({ maxOutputBytes: 1000 }));
    expect(result.exitCode).toBe(0);
    expect(result.output).toMatch(/^\[output truncated: first \d+ bytes omitted\]\n/);
    expect(result.output.endsWith('99999\n100000\n')).toBe(true);
  });

  it('starts from a cleared environment with a HOME and TMPDIR of its own', async () => {
    serviceEnv.CFN_SECRET_TEST = 'leaked-value';
    try {
      const result = await sandbox.run('env | sort', opts({ env: { EXTRA_VAR: 'given' } }));
      const names = result.output
        .trim()
        .split('\n')
        .map((line) => line.slice(0, line.indexOf('=')));
      expect(result.output).not.toContain('leaked-value');
      expect(result.output).toContain('EXTRA_VAR=given');
      expect(result.output).toContain('HOME=/home/sandbox\n');
      expect(result.output).toContain('TMPDIR=/tmp\n');
      expect(names.filter((n) => !['PWD', 'SHLVL', '_'].includes(n)).sort()).toEqual([
        'EXTRA_VAR',
        'HOME',
        'LANG',
        'LOGNAME',
        'NO_UPDATE_NOTIFIER',
        'PATH',
        'TMPDIR',
        'USER',
        'npm_config_update_notifier',
      ]);
      const home = await sandbox.run('touch ~/cache && ls -ld ~ | cut -c1-10 && id -un', opts());
      expect(home).toMatchObject({ exitCode: 0, output: 'drwx------\nsandbox\n' });
    } finally {
      delete serviceEnv.CFN_SECRET_TEST;
    }
  });

  it('kills the whole sandbox on timeout', async () => {
    const { running, ns } = await startInSandbox('sleep 30 & NS; wait', { timeoutMs: 1_000 });
    expect(pidNamespaceMembers(ns).length).toBeGreaterThan(0);
    const result = await running;
    expect(result).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGTERM' });
    await waitUntilNamespaceEmpty(ns);
  });

  it('kills the whole sandbox on abort within 2 s, even a command ignoring SIGTERM', async () => {
    const controller = new AbortController();
    const { running, ns } = await startInSandbox("trap '' TERM; sleep 30 & NS; wait", {
      timeoutMs: 30_000,
      signal: controller.signal,
    });
    const abortedAt = performance.now();
    controller.abort();
    const result = await running;
    expect(performance.now() - abortedAt).toBeLessThan(2_000);
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBeNull();
    await waitUntilNamespaceEmpty(ns);
  });

  it('ends background processes the command leaves behind, in a new session or not', async () => {
    const { running, ns } = await startInSandbox(
      'sleep 30 >/dev/null 2>&1 & setsid sleep 31 & NS; echo done',
    );
    const result = await running;
    expect(result).toMatchObject({ exitCode: 0, timedOut: false, output: 'done\n' });
    await waitUntilNamespaceEmpty(ns);
  });

  it('resolves at once when aborted before start', async () => {
    const result = await sandbox.run('touch ran', opts({ signal: AbortSignal.abort() }));
    expect(result.exitCode).toBeNull();
    expect(fs.existsSync(path.join(workspace, 'ran'))).toBe(false);
  });

  it("reports bwrap's own failure in the output", async () => {
    const result = await sandbox.run('true', opts({ workspace: path.join(base, 'missing') }));
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toMatch(/\[sandbox: bwrap: .+\]/);
  });

  it('fails its self-test, saying why, when bwrap cannot start', async () => {
    const broken = await createBwrapSandbox({
      bwrap: '/nonexistent/bwrap',
      supportDir: path.join(base, 'support'),
      dropTo: sandbox.owner,
    });
    await expect(selfTestSandbox(broken, path.join(base, 'support'))).rejects.toThrow(
      /self-test failed .*failed to start: spawn \/nonexistent\/bwrap ENOENT/s,
    );
  });
});
