// ecosystem.config.cjs as PM2 reads it: every option known to PM2's own schema (pm2's
// Config.validateJSON), the guide's app names running `cfn serve` (cluster mode, reloadable) and
// `cfn worker`, and kill timeouts longer than the service's graceful shutdown.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, filesUnder, readText } from './repo.js';

interface App {
  name: string;
  script: string;
  args: string;
  exec_mode: string;
  kill_timeout: number;
  listen_timeout?: number;
  wait_ready?: boolean;
  env: Record<string, string>;
}
interface Pm2Config {
  validateJSON(app: unknown): { errors: string[]; config: Record<string, unknown> };
}

const require = createRequire(import.meta.url);
const { apps } = require(path.join(ROOT, 'ecosystem.config.cjs')) as { apps: App[] };
const pm2Config = require('pm2/lib/tools/Config') as Pm2Config;
const app = (name: string) => apps.find((a) => a.name === name)!;

describe('ecosystem.config.cjs', () => {
  it('uses only options PM2 knows, with values of the types it accepts', () => {
    for (const a of apps) {
      const { errors, config } = pm2Config.validateJSON(a);
      expect(errors, a.name).toEqual([]);
      expect(Object.keys(config), a.name).toEqual(expect.arrayContaining(Object.keys(a)));
    }
    // The check bites: a misspelt option is not in PM2's result.
    const { config } = pm2Config.validateJSON({ ...apps[0], kill_timout: 1 });
    expect(Object.keys(config)).not.toContain('kill_timout');
  });

  it('runs the API in cluster mode and the workers, both from the built cfn executable', () => {
    const pkg = JSON.parse(readText('package.json')) as { bin: { cfn: string } };
    expect(apps.map((a) => a.name)).toEqual(['claude-flow-novice', 'claude-flow-novice-worker']);
    for (const a of apps) expect(a.script).toBe(pkg.bin.cfn);
    expect(app('claude-flow-novice')).toMatchObject({ args: 'serve', exec_mode: 'cluster' });
    expect(app('claude-flow-novice-worker')).toMatchObject({ args: 'worker' });
    expect(app('claude-flow-novice').env.PORT).toBe(process.env.PORT ?? '3000');
    expect(app('claude-flow-novice-worker').env.PORT).toBe(process.env.CFN_WORKER_PORT ?? '3101');
  });

  it('waits longer than the graceful shutdown before SIGKILL', () => {
    for (const a of apps) {
      const drain = Number(a.env.SHUTDOWN_DRAIN_MS);
      const timeout = Number(a.env.SHUTDOWN_TIMEOUT_MS);
      expect(Number.isFinite(drain) && Number.isFinite(timeout), a.name).toBe(true);
      expect(a.kill_timeout, a.name).toBeGreaterThan(drain + 2 * timeout);
    }
  });

  it("waits for 'ready' only if the service sends it; else for the listener", () => {
    const sendsReady = filesUnder('src', /\.ts$/)
      .filter((f) => !f.endsWith('.test.ts'))
      .some((f) =>
        /process\.send\?*\.?\(\s*'ready'/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')),
      );
    const api = app('claude-flow-novice');
    expect(api.wait_ready === true).toBe(sendsReady);
    expect(api.listen_timeout).toBeGreaterThan(0);
  });
});
