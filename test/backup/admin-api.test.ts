// The admin API of the runbook (backups, restore, maintenance): admin only, JSON errors, long
// operations streamed as NDJSON progress then a result, one operation at a time per process, and
// in the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';

const ADMIN = 'cfn_admin_api_test_key_0123456789abcdef';
let server: TestServer;
let viewer: string;

const call = (path: string, init: { method?: string; body?: unknown; key?: string } = {}) =>
  server.fetch(path, {
    method: init.method ?? 'GET',
    key: init.key ?? ADMIN,
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });

/** The lines of an NDJSON answer. */
async function lines(res: Response): Promise<Array<Record<string, unknown>>> {
  return (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  server = await startTestServer({
    CFN_BOOTSTRAP_ADMIN_KEY: ADMIN,
    BACKUP_SCHEDULES: 'off',
    CFN_REPLICA_HEARTBEAT_MS: '200',
    CFN_REPLICA_STALE_MS: '5000',
    CFN_RESTORE_ACK_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'warn',
  });
  const res = await call('/api/keys', { method: 'POST', body: { name: 'v', role: 'viewer' } });
  viewer = ((await res.json()) as { key: string }).key;
});

afterAll(async () => {
  await server?.stop();
});

describe('admin API', () => {
  it('is for admin keys only, with JSON errors', async () => {
    const none = await server.fetch('/api/admin/backups');
    expect(none.status).toBe(401);
    const forbidden = await call('/api/admin/maintenance', { key: viewer });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({
      error: { code: 'FORBIDDEN', requestId: expect.any(String) },
    });
    const invalid = await call('/api/admin/restore', { method: 'POST', body: { backup: '' } });
    expect(invalid.status).toBe(400);
    const missing = await call('/api/admin/restore', {
      method: 'POST',
      body: { backup: 'database-19990101_000000', dryRun: true },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      error: { code: 'NOT_FOUND', message: expect.stringMatching(/cfn backup list/) },
    });
  });

  it('streams a backup as progress lines, then the manifest; lists it; plans a restore', async () => {
    const res = await call('/api/admin/backups', { method: 'POST', body: { type: 'database' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const out = await lines(res);
    expect(out[0]).toEqual({ progress: { phase: 'starting', bytes: 0 } });
    const manifest = out.at(-1)!.result as { id: string };
    expect(manifest.id).toMatch(/^database-\d{8}_\d{6}$/);
    const list = (await (await call('/api/admin/backups')).json()) as {
      items: Array<{ manifest: { id: string } }>;
    };
    expect(list.items.map((i) => i.manifest.id)).toEqual([manifest.id]);
    const plan = await call('/api/admin/restore', {
      method: 'POST',
      body: { backup: 'latest', dryRun: true },
    });
    expect(await plan.json()).toMatchObject({ id: manifest.id, checksum: 'verified' });
  });

  it('runs one operation at a time; a failed restore ends its stream with a JSON error', async () => {
    // A replica that never answers keeps the restore waiting for its acknowledgement.
    await server.runtime.replicas.heartbeat({
      id: 'silent',
      role: 'worker',
      host: 'elsewhere',
      pid: 7,
      version: 't',
      startedAt: new Date(),
      ackSince: null,
      health: null,
    });
    const restoring = call('/api/admin/restore', { method: 'POST', body: { backup: 'latest' } });
    const res = await restoring;
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // the first line: the restore holds the slot from now on
    const second = await call('/api/admin/backups', { method: 'POST', body: {} });
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ error: { code: 'CONFLICT' } });
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value);
    const last = JSON.parse(rest.trim().split('\n').at(-1)!) as {
      error: { code: string; message: string; requestId: string };
    };
    expect(last.error).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      message: expect.stringMatching(/nothing was changed.*silent \(worker on elsewhere, pid 7/),
      requestId: expect.any(String),
    });
    await server.runtime.replicas.remove('silent');
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await (await server.fetch('/api/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(doc.paths['/api/admin/backups']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/admin/restore']!)).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/admin/maintenance']!).sort()).toEqual([
      'delete',
      'get',
      'put',
    ]);
  });
});
