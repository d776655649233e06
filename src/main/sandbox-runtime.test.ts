import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs } from '../../test/support/log-capture.js';
import { bwrapPath } from '../../test/support/sandbox.js';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { createLogger } from '../observability/logger.js';
import { openSandbox } from './sandbox-runtime.js';

let dataDir: string;
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-sandbox-runtime-'));
});
afterAll(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function open(env: Record<string, string>) {
  const logs = captureLogs();
  const logger = createLogger({ level: 'info', version: 'test', destination: logs.stream });
  const config = loadConfig({
    CFN_DATA_DIR: dataDir,
    PATH: '/usr/local/bin:/usr/bin:/bin',
    ...env,
  });
  const opened = await openSandbox(config, logger);
  return { ...opened, logs };
}

describe('openSandbox', () => {
  it('uses bwrap when its self-test passes (auto and bwrap alike)', async () => {
    for (const mode of ['auto', 'bwrap']) {
      const { status, sandbox } = await open({ CFN_SANDBOX: mode });
      expect(status).toEqual({ status: 'available', detail: bwrapPath() });
      const result = await sandbox.run('echo inside', {
        workspace: path.join(dataDir, 'sandbox'),
        env: {},
        timeoutMs: 10_000,
        maxOutputBytes: 1000,
        network: false,
      });
      expect(result.output).toBe('inside\n');
    }
  });

  it.each([
    [
      'a PATH without bwrap',
      { PATH: '/nonexistent-dir' },
      /bwrap \(CFN_SANDBOX_BWRAP\) was not found on PATH/,
    ],
    [
      'a bwrap path that does not exist',
      { CFN_SANDBOX_BWRAP: '/nonexistent' },
      /\/nonexistent \(CFN_SANDBOX_BWRAP\) is not an executable file/,
    ],
    [
      'a bwrap that fails its self-test',
      { CFN_SANDBOX_BWRAP: '/bin/false' },
      /self-test failed \(exit 1\)/,
    ],
  ])(
    'with %s: refuses commands under auto, stops start-up under bwrap',
    async (_what, env, why) => {
      const auto = await open(env);
      expect(auto.status?.status).toBe('unavailable');
      expect(auto.status?.detail).toMatch(why);
      await expect(
        auto.sandbox.run('true', {
          workspace: dataDir,
          env: {},
          timeoutMs: 1000,
          maxOutputBytes: 100,
          network: false,
        }),
      ).rejects.toMatchObject({ code: 'NO_SANDBOX', message: expect.stringMatching(why) });
      expect(auto.logs.text()).toMatch(/command validators are refused/);
      const required = await open({ ...env, CFN_SANDBOX: 'bwrap' }).then(
        () => new Error('opened'),
        (e: unknown) => e,
      );
      expect(required).toBeInstanceOf(ConfigError);
      expect((required as ConfigError).variable).toBe('CFN_SANDBOX');
      expect((required as Error).message).toMatch(why);
    },
  );

  it('runs commands unconfined under off, with a warning and a HOME of its own', async () => {
    const { status, sandbox, logs } = await open({ CFN_SANDBOX: 'off' });
    expect(status?.status).toBe('disabled');
    expect(logs.text()).toMatch(
      /CFN_SANDBOX=off: agent commands and command validators run unconfined/,
    );
    const result = await sandbox.run('echo $HOME; test -d $HOME && echo exists', {
      workspace: dataDir,
      env: {},
      timeoutMs: 10_000,
      maxOutputBytes: 1000,
      network: false,
    });
    expect(result.output).toBe(`${path.join(dataDir, 'home')}\nexists\n`);
  });
});
