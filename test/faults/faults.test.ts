// The fault suite: the distributed profile as real processes (one `cfn serve`, three `cfn worker`s)
// on a PostgreSQL and a Redis of the test's own, against the loopback fake LLM with its latency
// spread out. While swarms run, the test SIGKILLs workers, stops and restarts Redis (which keeps
// nothing: its jobs are lost), stops and restarts PostgreSQL (longer than a lease lasts, and
// shorter), and partitions one worker from Redis (a TCP proxy that holds every byte), each more than
// once. Then, over the whole run: no swarm accepted (202) is lost or stuck, no task has two terminal
// events, every swarm's token totals are the sum of its journaled calls, every journaled call is one
// the provider answered, and no completed call was made twice unless the process it answered died
// (the documented window).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type RunningCli } from '../support/cli.js';
import { startFakeLlm, type FakeLlm, type FakeRequest } from '../support/fake-llm.js';
import { agentOf, implementer, validator, writeAgents } from '../support/swarm-harness.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.js';

const KEY = 'cfn_fault_suite_admin_key_0123456789abcdef';
const LEASE_MS = 3000;
const TERMINAL = ['completed', 'aborted', 'exhausted', 'failed', 'cancelled', 'budget_exceeded'];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-faults-'));
let llm: FakeLlm;
let postgres: ThrowawayPostgres;
let redis: ThrowawayRedis;
let env: Record<string, string>;
let apiUrl = '';
let serve: RunningCli;
let db: pg.Pool;
const workers: RunningCli[] = [];
const everyProcess: RunningCli[] = [];
/** When each worker was SIGKILLed (its pid, and the time). */
const kills: Array<{ pid: number; at: number }> = [];
const accepted: string[] = [];
const timeline: string[] = [];
const t0 = Date.now();
const note = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startRole(role: 'serve' | 'worker', extra: Record<string, string> = {}) {
  const child = spawnCli([role], { cwd: dir, env: { ...env, ...extra } });
  everyProcess.push(child);
  const listening = await child.waitForLog((l) => l.msg === 'listening', 60_000);
  return { child, url: String(listening.url) };
}

/** Each worker reaches Redis through a proxy of its own, which the test can stall (a partition). */
const proxies = new Map<RunningCli, TcpProxy>();
async function startWorker(): Promise<void> {
  const proxy = await startTcpProxy('127.0.0.1', redis.port);
  const { child } = await startRole('worker', { REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
  proxies.set(child, proxy);
  workers.push(child);
}

/** Submits one swarm; true when it was accepted (202). */
async function submit(i: number): Promise<boolean> {
  try {
    const res = await fetch(`${apiUrl}/api/swarms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        objective: `fault swarm ${i}${i % 3 === 0 ? ' (twice)' : ''}`,
        agents: ['impl-a', 'impl-b'],
        validators: ['val-a'],
        mode: 'mvp',
      }),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status === 202) {
      accepted.push(((await res.json()) as { id: string }).id);
      return true;
    }
    lastRefusal = `HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`;
  } catch (err) {
    // Refused while a dependency is down or just back: not accepted, so nothing to lose.
    lastRefusal = String(err);
  }
  return false;
}

let submitted = 0;
/** What the service answered to the last submission it refused. */
let lastRefusal = '';
/**
 * Submits `n` swarms, submitting again those refused (right after a fault the service may still
 * refuse), so that the next fault lands on work in flight on a slow machine too.
 */
async function wave(n: number): Promise<void> {
  const until = Date.now() + 30_000;
  let left = n;
  while (left > 0) {
    const results = await Promise.all(Array.from({ length: left }, () => submit(submitted++)));
    left = results.filter((ok) => !ok).length;
    if (left === 0) break;
    if (Date.now() > until)
      throw new Error(
        `${left} of ${n} submissions refused for 30 s, the last with ${lastRefusal}\n` +
          `serve: exit ${serve.child.exitCode} ${serve.child.signalCode}\n` +
          `${serve.stdout().split('\n').slice(-15).join('\n').slice(-4000)}\n${serve.stderr().slice(-2000)}\n` +
          timeline.join('\n'),
      );
    note(`${left} submission(s) refused, submitting again`);
    await sleep(250);
  }
}

/** Resolves once at least `n` LLM calls are waiting for their answer (faults land mid-swarm). */
async function callsInFlight(n: number): Promise<void> {
  try {
    await llm.waitUntil(
      (rs) => rs.filter((r) => r.respondedAt === undefined && !r.clientClosed).length >= n,
      45_000,
    );
  } catch (err) {
    const { rows } = await db
      .query<{ status: string; n: number }>(
        'select status, count(*)::int as n from swarms group by status order by 1',
      )
      .catch(() => ({ rows: [] }));
    const alive = everyProcess.filter((p) => p.child.exitCode === null && !p.child.signalCode);
    throw new Error(
      `${(err as Error).message}; swarms by status ${JSON.stringify(rows)}; ` +
        `${alive.length} processes alive\n${timeline.join('\n')}`,
    );
  }
}

/** The workers (pids) recorded on running tasks. */
async function busyWorkerPids(): Promise<number[]> {
  const { rows } = await db.query<{ worker: string }>(
    "select distinct worker from agent_tasks where status = 'running' and worker is not null",
  );
  return rows.map((r) => Number(r.worker.split(':').at(-1)));
}

async function killBusyWorker(): Promise<void> {
  const busy = new Set(await busyWorkerPids());
  const victim = workers.find((w) => busy.has(w.child.pid!)) ?? workers[0]!;
  const i = workers.indexOf(victim);
  workers.splice(i, 1);
  victim.child.kill('SIGKILL');
  await victim.exited;
  kills.push({ pid: victim.child.pid!, at: Date.now() });
  note(`SIGKILL worker ${victim.child.pid}`);
  await proxies.get(victim)?.close();
  await startWorker();
}

/** Cuts a worker that has tasks running off from Redis for a while, then heals the partition. */
async function partitionBusyWorker(ms: number): Promise<void> {
  let victim: RunningCli | undefined;
  await waitFor(async () => {
    const busy = new Set(await busyWorkerPids());
    victim = workers.find((w) => busy.has(w.child.pid!));
    return victim !== undefined;
  }, 20_000);
  const proxy = proxies.get(victim!)!;
  proxy.stall();
  note(`worker ${victim!.child.pid} partitioned from redis`);
  await sleep(ms);
  proxy.unstall();
  note('partition healed');
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await sleep(100);
  }
}

async function outage(
  what: string,
  stop: () => Promise<void>,
  start: () => Promise<void>,
  ms: number,
) {
  await stop();
  note(`${what} down`);
  await sleep(ms);
  await start();
  note(`${what} up`);
}

beforeAll(async () => {
  llm = await startFakeLlm();
  // Latency spread 0.2–1.6 s; a third of the swarms need a second iteration.
  const validations = new Map<string, number>();
  llm.setResponder((req: FakeRequest) => {
    const delayMs = 200 + ((req.id * 7919) % 1400);
    const agent = agentOf(req);
    if (agent.startsWith('impl')) return { ...implementer(0.9), delayMs };
    const objective = req.messages[0]?.content.match(/fault swarm \d+( \(twice\))?/)?.[0] ?? '';
    const n = (validations.get(objective) ?? 0) + 1;
    validations.set(objective, n);
    return { ...validator(objective.includes('twice') && n === 1 ? 0.5 : 0.95), delayMs };
  });
  postgres = await startThrowawayPostgres();
  redis = await startThrowawayRedis();
  db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on('error', () => undefined); // the test stops the server under it
  writeAgents(path.join(dir, 'agents'));
  env = {
    PORT: '0',
    HOST: '127.0.0.1',
    // Debug: each answer received is a line (`llm call`), which says which process got it.
    LOG_LEVEL: 'debug',
    DATABASE_URL: postgres.url,
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'faults',
    REDIS_RECONNECT_MAX_MS: '500',
    CFN_QUEUE_LOCK_MS: String(LEASE_MS),
    CFN_RECOVERY_INTERVAL_MS: '2000',
    CFN_DATA_DIR: path.join(dir, 'data'),
    CFN_AGENTS_DIR: path.join(dir, 'agents'),
    CFN_BOOTSTRAP_ADMIN_KEY: KEY,
    CFN_MAX_CONCURRENT_AGENTS: '6',
    CFN_LLM_MAX_RETRIES: '0',
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: llm.url,
    SHUTDOWN_TIMEOUT_MS: '1000',
  };
  const started = await startRole('serve');
  serve = started.child;
  apiUrl = started.url;
  await Promise.all([startWorker(), startWorker(), startWorker()]);
}, 180_000);

afterAll(async () => {
  for (const c of everyProcess)
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await Promise.all(everyProcess.map((c) => c.exited));
  await db?.end().catch(() => undefined);
  for (const proxy of proxies.values()) await proxy.close();
  await redis?.stop();
  postgres?.destroy();
  await llm?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('fault suite', () => {
  it('keeps every promise through SIGKILLs, Redis and PostgreSQL restarts and a partition from Redis', async () => {
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      await wave(8);
      await callsInFlight(4);
      await killBusyWorker();

      await wave(6);
      await callsInFlight(4);
      await outage('redis', redis.stop, redis.start, round === 1 ? 2500 : 5000);

      await wave(6);
      await callsInFlight(4);
      // Longer than a lease (the workers give their swarms up), then shorter (they keep them).
      await outage(
        'postgresql',
        () => postgres.stopAsync(),
        () => postgres.startAsync(),
        round === 1 ? LEASE_MS / 3 : LEASE_MS * 1.7,
      );

      await wave(6);
      await callsInFlight(4);
      await partitionBusyWorker(LEASE_MS * 2.5);
    }
    note('faults over');

    // No swarm lost or stuck.
    const until = Date.now() + 120_000;
    let open: string[] = [];
    for (;;) {
      const { rows } = await db.query<{ id: string; status: string }>(
        'select id, status from swarms where id = any($1::uuid[])',
        [accepted],
      );
      const found = new Set(rows.map((r) => r.id));
      expect(
        accepted.filter((id) => !found.has(id)),
        'accepted swarms missing',
      ).toEqual([]);
      open = rows.filter((r) => !TERMINAL.includes(r.status)).map((r) => r.id);
      if (!open.length || Date.now() > until) break;
      await sleep(500);
    }
    if (open.length) {
      const { rows } = await db.query(
        `select swarm_id, seq, type, data->>'taskId' as task from events
           where swarm_id = any($1::uuid[]) order by swarm_id, seq`,
        [open],
      );
      throw new Error(
        `${open.length} swarm(s) stuck:\n${JSON.stringify(rows, null, 1)}\n${timeline.join('\n')}`,
      );
    }
    const { rows: statuses } = await db.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from swarms group by status',
    );
    expect(statuses).toEqual([{ status: 'completed', n: accepted.length }]);

    // At most one terminal event per task.
    const { rows: doubled } = await db.query(
      `select swarm_id, data->>'taskId' as task, count(*)::int as n from events
         where data->>'type' in ('task.succeeded', 'task.failed')
         group by 1, 2 having count(*) > 1`,
    );
    expect(doubled).toEqual([]);

    // Token totals are the sum of the swarm's journaled calls.
    const { rows: totals } = await db.query(
      `select s.id, s.input_tokens::int as si, s.output_tokens::int as so,
                coalesce(sum(c.input_tokens), 0)::int as ci, coalesce(sum(c.output_tokens), 0)::int as co
         from swarms s left join agent_calls c on c.swarm_id = s.id
         group by s.id having s.input_tokens <> coalesce(sum(c.input_tokens), 0)
                         or s.output_tokens <> coalesce(sum(c.output_tokens), 0)`,
    );
    expect(totals).toEqual([]);

    // Every journaled call is one the provider answered, with the usage it reported.
    const completed = llm.requests.filter((r) => r.completed && r.callKey);
    const answered = new Set(completed.map((r) => r.callKey));
    const { rows: journal } = await db.query<{ key: string }>(
      "select key from agent_calls where kind = 'llm'",
    );
    expect(journal.filter((j) => !answered.has(j.key))).toEqual([]);

    // No completed call made twice, unless the process it answered died before it was durable.
    const byKey = new Map<string, FakeRequest[]>();
    for (const r of completed) byKey.set(r.callKey!, [...(byKey.get(r.callKey!) ?? []), r]);
    const repeats = [...byKey.entries()].filter(([, rs]) => rs.length > 1);
    // Which processes got each answer: every provider call logs `llm call` (debug) once it has it.
    const receipts = new Map<string, Array<{ pid: number; at: number }>>();
    for (const p of everyProcess)
      for (const line of p.stdout().split('\n')) {
        if (!line.includes('"llm call"')) continue;
        const l = JSON.parse(line) as { msg: string; callKey?: string; time: string };
        if (l.msg !== 'llm call' || !l.callKey) continue;
        receipts.set(l.callKey, [
          ...(receipts.get(l.callKey) ?? []),
          { pid: p.child.pid!, at: Date.parse(l.time) },
        ]);
      }
    const killed = new Set(kills.map((k) => k.pid));
    // A repeat is explained when every process that got an earlier answer died (before it was
    // durable: else the journal would have been found), or when the answer reached no process.
    const unexplained = repeats.filter(([key]) => {
      const got = (receipts.get(key) ?? []).sort((a, b) => a.at - b.at);
      return got.slice(0, -1).some((g) => !killed.has(g.pid));
    });
    const rel = (t: number | undefined) => (t === undefined ? '-' : ((t - t0) / 1000).toFixed(2));
    const story = unexplained.map(([key, rs]) => {
      const swarm = key.split('/')[0]!;
      const lines = everyProcess.flatMap((p) =>
        p
          .stdout()
          .split('\n')
          .filter((l) => l.includes(swarm) && !l.includes('"level":20'))
          .map((l) => `  [${p.child.pid}] ${l.slice(0, 400)}`),
      );
      return [
        key,
        ...rs.map(
          (r) => `  call ${r.id}: received ${rel(r.receivedAt)} answered ${rel(r.respondedAt)}`,
        ),
        ...lines,
      ].join('\n');
    });
    expect(
      unexplained.map(([key]) => key),
      `repeated calls with no death between them\n${story.join('\n')}\n${timeline.join('\n')}`,
    ).toEqual([]);
    // The run was a real one: swarms went through every fault, calls were cut short.
    expect(accepted.length).toBeGreaterThanOrEqual(60);
    // The long PostgreSQL outage made workers give their leases up, as it should.
    expect(
      everyProcess.some((p) => p.stdout().includes('swarm leases could not be renewed in time')),
    ).toBe(true);
    expect(llm.requests.some((r) => r.clientClosed && !r.completed)).toBe(true);
    console.log(
      `fault suite: ${accepted.length} swarms, ${completed.length} completed calls, ` +
        `${repeats.length} repeated by a process that took over from a dead one, ${kills.length} kills\n${timeline.join('\n')}`,
    );
  }, 420_000);
});
