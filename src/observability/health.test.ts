import { describe, expect, it } from 'vitest';
import { createHealthService } from './health.js';

describe('health service', () => {
  it('reports each probe, names the failing ones, and bounds a hanging probe by the timeout', async () => {
    const h = createHealthService({
      version: '1.0.0',
      timeoutMs: 50,
      probes: [
        { name: 'database', check: async () => {} },
        { name: 'redis', check: () => new Promise(() => {}) },
        { name: 'other', check: async () => Promise.reject(new Error('boom')) },
      ],
    });
    const r = await h.report();
    expect(r.status).toBe('error');
    expect(r.failing).toEqual(['redis', 'other']);
    expect(r.checks.database?.status).toBe('ok');
    expect(r.checks.redis).toMatchObject({ status: 'error', error: 'timed out after 50 ms' });
    expect(r.checks.other).toMatchObject({ status: 'error', error: 'boom' });
  });

  it('shares one round of checks between concurrent callers', async () => {
    let calls = 0;
    const h = createHealthService({
      version: '1',
      timeoutMs: 1000,
      probes: [{ name: 'database', check: async () => void calls++ }],
    });
    await Promise.all([h.report(), h.report(), h.report()]);
    expect(calls).toBe(1);
    await h.report();
    expect(calls).toBe(2);
  });

  it('turns not ready while shutting down', async () => {
    const h = createHealthService({ version: '1', timeoutMs: 100, probes: [] });
    expect((await h.readiness()).ready).toBe(true);
    h.setShuttingDown();
    expect(await h.readiness()).toMatchObject({ ready: false, reason: 'shutting down' });
  });

  it('reports the sandbox beside the checks, never as a failure', async () => {
    const h = createHealthService({
      version: '1',
      timeoutMs: 100,
      probes: [{ name: 'database', check: async () => {} }],
      sandbox: { status: 'unavailable', detail: 'bwrap was not found' },
    });
    expect(await h.report()).toMatchObject({
      status: 'ok',
      sandbox: { status: 'unavailable', detail: 'bwrap was not found' },
    });
    expect((await h.readiness()).ready).toBe(true);
    const without = createHealthService({ version: '1', timeoutMs: 100, probes: [] });
    expect(await without.report()).not.toHaveProperty('sandbox');
  });
});
