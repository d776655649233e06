// The HTTP fuzz suite: thousands of hostile requests (test/fuzz/requests.ts) against the real
// service, over raw sockets, on the embedded PGlite and on PostgreSQL. It fails on any 5xx, on a
// request left unanswered, and on any error answer that is not the JSON shape carrying the
// request id of its X-Request-Id header, printing the request. The seed is printed first:
// FUZZ_SEED=<seed> replays a run, FUZZ_RUNS=<n> changes its length.
import type { Express } from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouteTable, type Listable } from '../../src/http/route-table.js';
import { rawRequest as send, type RawResponse } from '../support/raw-http.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { passingAgents, startSwarmHarness, type SwarmHarness } from '../support/swarm-harness.js';
import {
  apiCall,
  describeRequest,
  httpRequest,
  rawRequest,
  type FuzzContext,
  type FuzzRequest,
} from './requests.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.FUZZ_RUNS ?? 4000);

function check(req: FuzzRequest, res: RawResponse): string | undefined {
  if (res.noAnswer) return `no answer (${res.noAnswer})`;
  if (res.status >= 500) return `status ${res.status}`;
  if (res.status < 400) return undefined;
  if (!res.headers['content-type']?.startsWith('application/json'))
    return `error answer with Content-Type ${res.headers['content-type'] ?? '(none)'}`;
  const id = res.headers['x-request-id'];
  if (!id) return 'error answer without X-Request-Id';
  if (req.method === 'HEAD' && req.kind === 'http') return undefined; // no body to a HEAD
  let body: { error?: { code?: unknown; message?: unknown; requestId?: unknown } };
  try {
    body = JSON.parse(res.body) as typeof body;
  } catch {
    return 'error body is not JSON';
  }
  const e = body.error;
  if (typeof e?.code !== 'string' || typeof e.message !== 'string' || !e.message)
    return 'error body is not {"error":{"code","message","requestId"}}';
  if (e.requestId !== id) return `error.requestId ${String(e.requestId)} is not X-Request-Id ${id}`;
  return undefined;
}

function report(req: FuzzRequest, res: RawResponse, problem: string): string {
  const head = res.headerList.map(([k, v]) => `${k}: ${v}`).join('\n');
  return [
    `${problem} (replay: FUZZ_SEED=${SEED})`,
    `--- request (${req.caller} caller) ---`,
    describeRequest(req),
    '--- response ---',
    `HTTP ${res.status}`,
    head,
    '',
    res.body.slice(0, 800),
  ].join('\n');
}

function fuzzSuite(
  label: string,
  runs: number,
  env: () => Promise<Record<string, string>>,
  cleanup: () => Promise<void> = async () => {},
) {
  describe(`HTTP fuzz: ${label}`, () => {
    let h: SwarmHarness;
    let ctx: FuzzContext;
    let port: number;

    const call = async (method: string, path: string, key: string, body?: object) => {
      const res = await h.server.fetch(path, {
        method,
        key,
        ...(body
          ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
          : {}),
      });
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      return (await res.json()) as Record<string, string>;
    };

    beforeAll(async () => {
      h = await startSwarmHarness({ ...(await env()), LOG_LEVEL: 'warn' });
      h.llm.setResponder(passingAgents);
      port = Number(new URL(h.server.url).port);
      const admin = h.server.adminKey;
      const key = async (role: string) =>
        call('POST', '/api/keys', admin, { name: `fuzz-${role}`, role });
      const [viewer, operator, revoked, disposable] = await Promise.all([
        key('viewer'),
        key('operator'),
        key('viewer'),
        key('viewer'),
      ]);
      await call('DELETE', `/api/keys/${revoked!.id}`, admin);
      const swarm = await call('POST', '/api/swarms', admin, {
        objective: 'fuzz target',
        agents: ['impl-a'],
        validators: ['val-a'],
        approval: 'human',
      });
      // The app among the server's request listeners (graceful-close.ts prepends one of its own).
      const app = h.server.server
        .listeners('request')
        .find((l) => 'router' in (l as object)) as Express;
      ctx = {
        routes: createRouteTable(() => app.router as unknown as Listable).list(),
        ids: [swarm.id!, disposable!.id!],
        agents: ['impl-a', 'val-a', 'coder'],
        keys: {
          admin,
          operator: operator!.key!,
          viewer: viewer!.key!,
          revoked: revoked!.key!,
        },
      };
    });
    afterAll(async () => {
      await h?.stop();
      await cleanup();
    });

    it('documents every route the app serves in the OpenAPI document', async () => {
      const doc = (await (await h.server.fetch('/api/openapi.json')).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      const documented = Object.entries(doc.paths)
        .map(
          ([p, ops]) =>
            `${Object.keys(ops)
              .map((m) => m.toUpperCase())
              .sort()
              .join(',')} ${p.replace(/\{(\w+)\}/g, ':$1')}`,
        )
        .sort();
      const served = ctx.routes
        .map((r) => `${r.methods.filter((m) => m !== 'HEAD').join(',')} ${r.path}`)
        .sort();
      expect(served).toEqual(documented);
    });

    async function endMaintenance() {
      const off = await h.server.fetch('/api/admin/maintenance', {
        method: 'DELETE',
        key: ctx.keys.admin,
      });
      expect(off.status, await off.text()).toBeLessThan(300);
    }

    it(`answers ${runs} hostile requests with no 5xx and every error in the JSON shape`, async () => {
      console.log(
        `HTTP fuzz (${label}): seed ${SEED}, ${runs} runs; replay with FUZZ_SEED=${SEED}`,
      );
      const counts = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { arbitrary: httpRequest(ctx), weight: 6 },
            { arbitrary: apiCall(ctx), weight: 3 },
            { arbitrary: rawRequest(), weight: 1 },
          ),
          async (req) => {
            const res = await send(port, req.bytes, 10_000);
            counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
            const problem = check(req, res);
            if (problem) throw new Error(report(req, res, problem));
            // An admin may turn maintenance on (and every write after it would rightly get 503):
            // the fuzzer turns it off again, as an operator would, before its next request.
            if (res.status < 300 && (await h.server.runtime.maintenance.status()).enabled)
              await endMaintenance();
          },
        ),
        { seed: SEED, numRuns: runs },
      );
      console.log(
        `HTTP fuzz (${label}): statuses ${JSON.stringify(Object.fromEntries([...counts].sort((a, b) => a[0] - b[0])))}`,
      );
      // Still serving, and nothing was an unhandled error.
      expect((await h.server.fetch('/health/live')).status).toBe(200);
      expect(h.server.logs.lines().filter((l) => l.msg === 'unhandled error')).toEqual([]);
    }, 300_000);
  });
}

fuzzSuite('PGlite', RUNS, async () => ({}));

let pg: TestDatabase | undefined;
fuzzSuite(
  'PostgreSQL',
  Math.ceil(RUNS / 2),
  async () => {
    pg = await createTestDatabase();
    return { DATABASE_URL: pg.url };
  },
  async () => {
    await pg?.drop();
  },
);
