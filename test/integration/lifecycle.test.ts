// Service lifecycle on one data directory: a revoked bootstrap key stays revoked across restarts,
// and readiness turns 503 during the shutdown drain while the listener still answers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startTestServer } from '../support/test-server.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-life-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const BOOTSTRAP = 'cfn_lifecycle_bootstrap_0123456789abcdef';

it('never revives a revoked CFN_BOOTSTRAP_ADMIN_KEY, and says how to recover', async () => {
  const first = await startTestServer({ CFN_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP }, { dataDir });
  const me = (await (await first.fetch('/api/whoami', { key: BOOTSTRAP })).json()) as {
    id: string;
  };
  expect(
    (await first.fetch(`/api/keys/${me.id}`, { method: 'DELETE', key: BOOTSTRAP })).status,
  ).toBe(200);
  await first.stop();

  const second = await startTestServer({ CFN_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP }, { dataDir });
  try {
    expect((await second.fetch('/health')).status).toBe(200);
    expect((await second.fetch('/api/whoami', { key: BOOTSTRAP })).status).toBe(401);
    const warning = second.logs
      .lines()
      .find((l) => l.level === 'warn' && String(l.msg).includes('no active API key'));
    expect(String(warning?.msg)).toContain('cfn keys create --role admin --name recovery --direct');
    expect(second.announced).toEqual([]);
  } finally {
    await second.stop();
  }
});

it('answers readiness 503 "shutting down" during the drain, then closes', async () => {
  const s = await startTestServer({ SHUTDOWN_DRAIN_MS: '1500' });
  expect((await s.fetch('/health/ready')).status).toBe(200);
  // shutdown() marks the service not ready before its first await, so this holds at once.
  const stopping = s.stop();
  expect(s.logs.lines().some((l) => l.msg === 'draining before closing the listener')).toBe(true);
  const ready = await s.fetch('/health/ready');
  expect(ready.status).toBe(503);
  expect(await ready.json()).toMatchObject({ ready: false, reason: 'shutting down' });
  expect((await s.fetch('/health/live')).status).toBe(200);
  await stopping;
  await expect(s.fetch('/health/live')).rejects.toThrow();
});
