// The service's signals tell the truth: event streams are measured apart from request latency,
// requests refused before their route handler (a database outage during authentication, the rate
// limiter, maintenance) keep their route label, every failed LLM call is logged with its journal
// key, and no log line carries a query parameter's value.
import { afterAll, describe, expect, it } from 'vitest';
import { createProxiedTestDatabase } from '../support/tcp-proxy.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { hangingOn, startSwarmHarness } from '../support/swarm-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function metricsText(s: TestServer): Promise<string> {
  const res = await s.fetch('/metrics');
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one exposition line (`name{labels}`), or undefined when the series is absent. */
async function sample(s: TestServer, series: string): Promise<number | undefined> {
  const line = (await metricsText(s)).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Polls until `fn` holds, for at most `timeoutMs`. */
async function eventually(fn: () => Promise<boolean> | boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

const EVENTS = '/api/swarms/:id/events';

describe('event streams', () => {
  it('are counted in http_streams_active and http_stream_duration_seconds, never in request latency', async () => {
    const h = await startSwarmHarness();
    cleanups.push(() => h.stop());
    // The swarm whose objective says so hangs in its first LLM call: its stream stays open.
    h.llm.setResponder(hangingOn('hang here'));
    const s = h.server;
    expect(await sample(s, 'http_streams_active')).toBe(0);

    const hanging = await h.submit({ objective: 'hang here', agents: ['impl-a'], mode: 'mvp' });
    const controller = new AbortController();
    const res = await s.fetch(`/api/swarms/${hanging.id}/events`, {
      key: s.adminKey,
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // the stream's first bytes: it is open
    expect(await sample(s, 'http_streams_active')).toBe(1);
    controller.abort();
    await reader.cancel().catch(() => undefined);
    await eventually(async () => (await sample(s, 'http_streams_active')) === 0);

    // A stream the server ends (its swarm completed), and a stream request refused before it
    // streams (unknown swarm: an ordinary 404 request).
    const done = await h.submit({
      objective: 'finish',
      agents: ['impl-a'],
      validators: ['val-a'],
      mode: 'mvp',
    });
    const events = await h.follow(done.id);
    expect(events.at(-1)?.event).toBe('swarm.completed');
    const missing = await s.fetch('/api/swarms/00000000-0000-4000-8000-000000000000/events', {
      key: s.adminKey,
    });
    expect(missing.status).toBe(404);

    await eventually(
      async () => (await sample(s, `http_stream_duration_seconds_count{route="${EVENTS}"}`)) === 2,
    );
    const text = await metricsText(s);
    expect(text).toContain(
      `http_requests_total{method="GET",route="${EVENTS}",status_code="200"} 2`,
    );
    // Request latency holds the 404 only: no series of the route with status 200.
    expect(text).toContain(
      `http_request_duration_seconds_count{method="GET",route="${EVENTS}",status_code="404"} 1`,
    );
    expect(text).not.toMatch(
      new RegExp(`http_request_duration_seconds_count\\{[^}]*route="${EVENTS}",status_code="200"`),
    );

    const lines = s.logs.lines();
    const ended = lines.filter((l) => l.msg === 'stream ended');
    expect(ended.map((l) => [l.route, l.status, l.endedBy]).sort()).toEqual(
      [
        [EVENTS, 200, 'client'],
        [EVENTS, 200, 'server'],
      ].sort(),
    );
    expect(ended[0]!.durationMs).toEqual(expect.any(Number));
    expect(
      lines.filter((l) => l.msg === 'request completed' && l.route === EVENTS).map((l) => l.status),
    ).toEqual([404]);
  }, 60_000);
});

describe('route labels of requests refused before their route handler', () => {
  it('carry the route template during a database outage, on 429 and in maintenance; only unknown paths are unmatched', async () => {
    const { url, proxy, close } = await createProxiedTestDatabase();
    cleanups.push(close);
    const s = await startTestServer({
      DATABASE_URL: url,
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      HEALTH_CHECK_TIMEOUT_MS: '500',
      CFN_MAINTENANCE_CACHE_MS: '0',
      // No heartbeat between the maintenance below and its end: the replica would halt, and
      // refuse writes until its next beat.
      CFN_REPLICA_HEARTBEAT_MS: '60000',
      CFN_REPLICA_STALE_MS: '120000',
      RATE_LIMIT_PER_MINUTE: '2',
      LOG_LEVEL: 'trace',
    });
    cleanups.push(() => s.stop());
    const id = '00000000-0000-4000-8000-000000000001';
    const count = (method: string, route: string, status: number) =>
      sample(s, `http_requests_total{method="${method}",route="${route}",status_code="${status}"}`);

    // 401 in the route's guard, then 429 from the limiter in front of every /api route.
    const anonymous = [];
    for (let i = 0; i < 3; i++) anonymous.push((await s.fetch(`/api/swarms/${id}`)).status);
    expect(anonymous).toEqual([401, 401, 429]);
    expect(await count('GET', '/api/swarms/:id', 401)).toBe(2);
    expect(await count('GET', '/api/swarms/:id', 429)).toBe(1);

    // 503 from the maintenance guard (before authentication).
    await s.runtime.maintenance.enable('route label test');
    const refused = await s.fetch(`/api/swarms/${id}/cancel`, { method: 'POST', key: s.adminKey });
    expect(refused.status).toBe(503);
    await s.runtime.maintenance.disable();
    expect(await count('POST', '/api/swarms/:id/cancel', 503)).toBe(1);

    // 503 from authentication with PostgreSQL cut, for routes with and without parameters;
    // a path no route matches stays `unmatched`.
    await proxy.cut();
    for (const [method, path] of [
      ['GET', `/api/swarms/${id}`],
      ['GET', `/api/swarms/${id}/events`],
      ['POST', '/api/keys'],
      ['GET', '/api/no-such-route'],
    ] as const) {
      const r = await s.fetch(path, { method, key: 'cfn_some_key_that_needs_the_database' });
      expect(r.status, `${method} ${path}`).toBe(503);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe(
        'SERVICE_UNAVAILABLE',
      );
    }
    expect(await count('GET', '/api/swarms/:id', 503)).toBe(1);
    expect(await count('GET', EVENTS, 503)).toBe(1);
    expect(await count('POST', '/api/keys', 503)).toBe(1);
    expect(await count('GET', 'unmatched', 503)).toBe(1);
    const failedLines = s.logs.lines().filter((l) => l.msg === 'request failed');
    expect(failedLines.map((l) => l.route)).toEqual(
      expect.arrayContaining(['/api/swarms/:id', EVENTS, '/api/keys', 'unmatched']),
    );

    // No value of a query parameter in any line: access log, errors, trace lines.
    const secret = await s.fetch('/api/swarms?cursor=SECRETVALUE1&token=SECRETVALUE2&bare', {
      key: 'cfn_some_key_that_needs_the_database',
    });
    expect(secret.status).toBe(503);
    await proxy.restore();
    expect((await s.fetch('/nope?token=SECRETVALUE3')).status).toBe(404);
    expect(await count('GET', 'unmatched', 404)).toBe(1);
    const text = s.logs.text();
    for (const value of ['SECRETVALUE1', 'SECRETVALUE2', 'SECRETVALUE3'])
      expect(text).not.toContain(value);
    const access = s.logs
      .lines()
      .filter((l) => l.msg === 'request failed' && l.route === '/api/swarms')
      .map((l) => l.url);
    expect(access).toEqual(['/api/swarms?cursor=[REDACTED]&token=[REDACTED]&[REDACTED]']);
  }, 60_000);
});

describe('LLM calls', () => {
  it('log one warn line per failed call (six HTTP 500s) with status, kind and journal key', async () => {
    const h = await startSwarmHarness();
    cleanups.push(() => h.stop());
    h.llm.setResponder(() => ({ status: 500, message: 'provider exploded' }));
    const objective = 'an objective that is never logged by the call lines';
    const swarm = await h.submit({ objective, agents: ['impl-a'], mode: 'mvp', maxIterations: 1 });
    const events = await h.follow(swarm.id);
    expect(events.at(-1)?.event).toBe('swarm.completed');

    // One iteration: two attempts of the task (maxAttempts 2), each one call of three HTTP
    // attempts (CFN_LLM_MAX_RETRIES=2).
    expect(h.llm.requests).toHaveLength(6);
    const failed = h.server.logs.lines().filter((l) => l.msg === 'llm call failed');
    expect(failed).toHaveLength(2);
    for (const line of failed) {
      expect(line).toMatchObject({
        level: 'warn',
        provider: 'anthropic',
        status: 500,
        errorKind: 'server',
        attempts: 3,
      });
      expect(String(line.callKey)).toMatch(new RegExp(`^${swarm.id}/[^/]+/llm/0$`));
      expect(line.durationMs).toEqual(expect.any(Number));
      expect(JSON.stringify(line)).not.toContain(objective);
      expect(JSON.stringify(line)).not.toContain('test-key');
    }
    // The keys are the ones the provider received.
    expect(new Set(failed.map((l) => l.callKey))).toEqual(
      new Set(h.llm.requests.map((r) => r.callKey)),
    );
  }, 60_000);
});
