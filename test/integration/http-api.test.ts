// The HTTP surface on the embedded profile (PGlite): health, metrics, request ids in logs, the
// auth matrix, and the JSON error shape for malformed, oversized and unknown requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';

let s: TestServer;
const METRICS_TOKEN = 'metrics-token-0123456789';

beforeAll(async () => {
  s = await startTestServer({ BODY_LIMIT: '2kb', METRICS_TOKEN });
});
afterAll(async () => {
  await s?.stop();
});

async function createKey(role: string, name = `${role}-key`) {
  const res = await s.fetch('/api/keys', {
    method: 'POST',
    key: s.adminKey,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string; role: string };
}

function expectErrorShape(body: unknown, code: string, requestId?: string | null) {
  const e = (body as { error: { code: string; message: string; requestId: string } }).error;
  expect(e.code).toBe(code);
  expect(typeof e.message).toBe('string');
  expect(e.message.length).toBeGreaterThan(0);
  if (requestId) expect(e.requestId).toBe(requestId);
  else expect(e.requestId).toMatch(/\S+/);
}

describe('health', () => {
  it('reports ok with version, uptime and a database check', async () => {
    const res = await s.fetch('/health');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & {
      checks: Record<string, { status: string; latencyMs: number }>;
    };
    expect(body.status).toBe('ok');
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof body.uptimeSeconds).toBe('number');
    expect(body.checks.database?.status).toBe('ok');
    expect(body.checks.database?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(body.checks.redis).toBeUndefined();
  });

  it('answers liveness and readiness without credentials', async () => {
    expect((await s.fetch('/health/live')).status).toBe(200);
    const ready = await s.fetch('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true });
  });
});

describe('request id', () => {
  it('echoes a caller id and tags every log line of that request with it', async () => {
    const id = 'test-req-42.abc';
    const res = await s.fetch('/api/whoami', { key: s.adminKey, headers: { 'x-request-id': id } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);
    const lines = s.logs.lines().filter((l) => l.requestId === id);
    expect(lines.length).toBeGreaterThan(0);
    const completed = lines.find((l) => l.msg === 'request completed');
    expect(completed).toMatchObject({
      route: '/api/whoami',
      status: 200,
      service: 'claude-flow-novice',
    });
    expect(completed?.version).toBeTypeOf('string');
    expect(completed?.time).toBeTypeOf('string');
  });

  it('makes an id when none (or an unsafe one) is sent', async () => {
    const unsafe = await s.fetch('/health', { headers: { 'x-request-id': 'bad id <script>' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const none = await s.fetch('/health');
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(none.headers.get('x-request-id')).not.toBe(unsafe.headers.get('x-request-id'));
  });

  it('never logs the API key', async () => {
    await s.fetch('/api/whoami', { key: s.adminKey });
    expect(s.logs.text()).not.toContain(s.adminKey);
  });
});

describe('auth matrix', () => {
  it('rejects a missing, wrong or revoked key with 401', async () => {
    const none = await s.fetch('/api/whoami');
    expect(none.status).toBe(401);
    expectErrorShape(await none.json(), 'UNAUTHORIZED');

    const wrong = await s.fetch('/api/whoami', { key: 'cfn_not-a-real-key' });
    expect(wrong.status).toBe(401);

    const k = await createKey('viewer', 'to-revoke');
    expect((await s.fetch('/api/whoami', { key: k.key })).status).toBe(200);
    const revoked = await s.fetch(`/api/keys/${k.id}`, { method: 'DELETE', key: s.adminKey });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revokedAt: string | null }).revokedAt).not.toBeNull();
    const after = await s.fetch('/api/whoami', { key: k.key });
    expect(after.status).toBe(401);
    expectErrorShape(await after.json(), 'UNAUTHORIZED');
  });

  it('gives viewers reads, refuses them writes (403), and keeps key management admin-only', async () => {
    const viewer = await createKey('viewer');
    const operator = await createKey('operator');
    expect((await s.fetch('/api/whoami', { key: viewer.key })).status).toBe(200);

    const viewerWrite = await s.fetch('/api/keys', {
      method: 'POST',
      key: viewer.key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', role: 'viewer' }),
    });
    expect(viewerWrite.status).toBe(403);
    expectErrorShape(await viewerWrite.json(), 'FORBIDDEN');

    for (const [method, path] of [
      ['GET', '/api/keys'],
      ['POST', '/api/keys'],
      ['DELETE', `/api/keys/${viewer.id}`],
      ['GET', '/api/audit'],
    ] as const) {
      const res = await s.fetch(path, { method, key: operator.key });
      expect(res.status, `${method} ${path} as operator`).toBe(403);
    }
    expect((await s.fetch('/api/keys', { key: s.adminKey })).status).toBe(200);
  });

  it('counts failures by reason in auth_failures_total', async () => {
    await s.fetch('/api/whoami', { key: 'cfn_wrong' });
    const text = await (await s.fetch('/metrics', { key: METRICS_TOKEN })).text();
    const value = (reason: string) =>
      Number(
        text.match(new RegExp(`^auth_failures_total\\{reason="${reason}"\\} (\\d+)`, 'm'))?.[1] ??
          NaN,
      );
    expect(value('invalid_key')).toBeGreaterThanOrEqual(2);
    expect(value('missing_credentials')).toBeGreaterThanOrEqual(1);
    expect(value('revoked_key')).toBeGreaterThanOrEqual(1);
    expect(value('insufficient_role')).toBeGreaterThanOrEqual(1);
    const warn = s.logs
      .lines()
      .find((l) => l.msg === 'authentication failed' && l.reason === 'invalid_key');
    expect(warn?.ip).toBe('127.0.0.1');
  });

  it('records privileged actions in the audit log', async () => {
    const k = await createKey('operator', 'audited');
    await s.fetch(`/api/keys/${k.id}`, {
      method: 'DELETE',
      key: s.adminKey,
      headers: { 'x-request-id': 'revoke-1' },
    });
    const res = await s.fetch('/api/audit?limit=100', { key: s.adminKey });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: Array<Record<string, unknown>> };
    expect(items.find((e) => e.action === 'key.create' && e.target === k.id)).toMatchObject({
      actorName: 'bootstrap-admin',
      ip: '127.0.0.1',
    });
    expect(items.find((e) => e.action === 'key.revoke' && e.target === k.id)).toMatchObject({
      requestId: 'revoke-1',
    });
    expect(items.some((e) => e.action === 'key.bootstrap')).toBe(true);
  });
});

describe('bad requests', () => {
  const post = (body: string, contentType = 'application/json') =>
    s.fetch('/api/keys', {
      method: 'POST',
      key: s.adminKey,
      headers: { 'content-type': contentType },
      body,
    });

  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    const res = await post('{"name": "x", role');
    expect(res.status).toBe(400);
    expectErrorShape(await res.json(), 'MALFORMED_JSON', res.headers.get('x-request-id'));
  });

  it('answers a body over the limit with 413', async () => {
    const res = await post(JSON.stringify({ name: 'x'.repeat(4096), role: 'viewer' }));
    expect(res.status).toBe(413);
    expectErrorShape(await res.json(), 'PAYLOAD_TOO_LARGE');
  });

  it('answers an invalid body with 400 listing the issues', async () => {
    const res = await post(JSON.stringify({ name: '', role: 'root', extra: 1 }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      error: { code: string; details: { issues: Array<{ path: string }> } };
    };
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(body.error.details.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['name', 'role']),
    );
  });

  it('answers a non-JSON body with 415', async () => {
    const res = await post('name=x', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(415);
    expectErrorShape(await res.json(), 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await s.fetch('/no/such/route');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expectErrorShape(await res.json(), 'NOT_FOUND');
  });

  it('answers revoking an unknown key with 404', async () => {
    const res = await s.fetch('/api/keys/00000000-0000-4000-8000-000000000000', {
      method: 'DELETE',
      key: s.adminKey,
    });
    expect(res.status).toBe(404);
    expectErrorShape(await res.json(), 'NOT_FOUND');
  });
});

describe('metrics', () => {
  it('requires the metrics token when one is configured', async () => {
    expect((await s.fetch('/metrics')).status).toBe(401);
    expect((await s.fetch('/metrics', { key: 'wrong-token-xxxxxxxx' })).status).toBe(401);
  });

  it('exposes every named metric, labelled by route template', async () => {
    const k = await createKey('viewer', 'for-template');
    await s.fetch(`/api/keys/${k.id}`, { method: 'DELETE', key: s.adminKey });
    await s.fetch('/definitely/unknown/abc123');
    const res = await s.fetch('/metrics', { key: METRICS_TOKEN });
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'http_request_duration_seconds_bucket',
      'http_requests_total',
      'memory_usage_percent',
      'cpu_usage_percent',
      'disk_usage_percent',
      'app_build_info',
      'auth_failures_total',
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
    }
    expect(text).toContain(
      'http_requests_total{method="DELETE",route="/api/keys/:id",status_code="200"}',
    );
    expect(text).toContain('route="unmatched",status_code="404"');
    expect(text).not.toContain(k.id);
    expect(text).not.toContain('abc123');
    expect(text).toMatch(/^app_build_info\{version="\d+\.\d+\.\d+",commit="[^"]+"\} 1$/m);
    for (const g of ['memory_usage_percent', 'cpu_usage_percent', 'disk_usage_percent']) {
      const v = Number(text.match(new RegExp(`^${g} ([\\d.e+-]+)$`, 'm'))?.[1]);
      expect(v, g).toBeGreaterThanOrEqual(0);
      expect(v, g).toBeLessThanOrEqual(100);
    }
    // memory and disk are never exactly zero on a real system
    expect(Number(text.match(/^memory_usage_percent ([\d.e+-]+)$/m)?.[1])).toBeGreaterThan(0);
    expect(Number(text.match(/^disk_usage_percent ([\d.e+-]+)$/m)?.[1])).toBeGreaterThan(0);
  });
});

describe('OpenAPI', () => {
  it('serves a document generated from the request schemas', async () => {
    const res = await s.fetch('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: {
              content: {
                'application/json': {
                  schema: { required?: string[]; properties: Record<string, unknown> };
                };
              };
            };
          }
        >
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    const swarmBody =
      doc.paths['/api/swarms']!.post!.requestBody!.content['application/json'].schema;
    expect(swarmBody.required).toEqual(['objective']);
    expect(Object.keys(swarmBody.properties)).toEqual(
      expect.arrayContaining([
        'objective',
        'strategy',
        'mode',
        'agents',
        'validators',
        'workspace',
        'budget',
        'approval',
        'webhookUrl',
      ]),
    );
    expect(
      doc.paths['/api/keys']!.post!.requestBody!.content['application/json'].schema.required,
    ).toEqual(['name', 'role']);
    for (const p of [
      '/api/swarms/{id}/events',
      '/api/swarms/{id}/cancel',
      '/api/swarms/{id}/decision',
      '/api/agents',
      '/health',
    ]) {
      expect(doc.paths[p], p).toBeDefined();
    }
  });
});
