// What the benchmarks share: process and CPU readings from /proc, scratch PostgreSQL databases,
// the fake LLM and the service as child processes, the service's API, and the prompts the service
// builds (so that a LangGraph graph sends the fake the same requests).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'dist/main/bin.js');
export const FAKE = path.join(ROOT, 'test/support/fake-llm-main.mjs');
export const ADMIN_KEY = 'cfn_bench_orchestration_admin_key_0123456789';
export const MODEL = 'claude-bench';
export const MAX_TOKENS = 4096;

// ---- small shared helpers ---------------------------------------------------------------------

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export function pct(xs, p) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
export const median = (xs) => pct(xs, 50);
export function procStatus(pid, field) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`));
  return m ? Number(m[1]) / 1024 : NaN; // MiB
}
/** utime + stime (or only stime) of a process, in ms (clock ticks are 10 ms on Linux). */
export function procCpuMs(pid, onlySystem = false) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((onlySystem ? 0 : Number(f[11])) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}
/**
 * CPU of the PostgreSQL server processes doing this run's work: the backends connected to `db`
 * plus the WAL writer, checkpointer and background writer (shared with anything else on the
 * server). Backends that exited in between are not counted.
 */
export function pgCpuMs(db) {
  const out = { backends: 0, background: 0 };
  if (!db) return out;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (db && cmd.includes(` ${db} `)) out.backends += procCpuMs(Number(entry));
    else if (/walwriter|checkpointer|background writer/.test(cmd))
      out.background += procCpuMs(Number(entry));
  }
  return out;
}
export const pgCpuDelta = (a, b) => b.backends - a.backends + (b.background - a.background);
/** Busy CPU time of the whole machine (all cores), in ms. */
export function machineBusyMs() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
  const [user, nice, system, , , irq, softirq, steal] = f.map(Number);
  return (user + nice + system + irq + softirq + steal) * 10;
}
/** CPU counters for one measured window: the orchestrator, the fake LLM, PostgreSQL, the machine. */
/** The machine's redis-server (its CPU counts for the distributed profile), if one runs. */
export function redisServerPid() {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'redis-server') return Number(d);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

export function cpuSnapshot(pid, fakePid, pgDb, redisPid) {
  const own = process.cpuUsage();
  const pids = [].concat(pid); // the distributed profile is several processes
  return {
    proc: pids.reduce((a, p) => a + procCpuMs(p), 0),
    procSys: pids.reduce((a, p) => a + procCpuMs(p, true), 0),
    redis: redisPid ? procCpuMs(redisPid) : 0,
    fake: procCpuMs(fakePid),
    pg: pgCpuMs(pgDb),
    self: pids.includes(process.pid) ? 0 : (own.user + own.system) / 1000, // the child measures itself
    machine: machineBusyMs(),
  };
}
export function cpuDelta(a, b, wallMs) {
  const proc = b.proc - a.proc;
  const procSys = b.procSys - a.procSys;
  const fake = b.fake - a.fake;
  const pg = pgCpuDelta(a.pg, b.pg);
  const self = b.self - a.self;
  const redis = b.redis - a.redis;
  const machine = b.machine - a.machine;
  return {
    proc,
    procSys,
    fake,
    pg,
    redis,
    self,
    foreignCores: Math.max(0, machine - proc - fake - pg - redis - self) / wallMs,
  };
}
export const dbNameOf = (url) => decodeURIComponent(new URL(url).pathname.slice(1));
export function withDb(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
export async function pgStats(url) {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      `select xact_commit::bigint as xact, tup_inserted::bigint as ins, tup_updated::bigint as upd,
              tup_fetched::bigint as fetched from pg_stat_database where datname = current_database()`,
    );
    return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]));
  } finally {
    await c.end();
  }
}
export async function adminQuery(url, sqlText) {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sqlText);
  } finally {
    await c.end();
  }
}
/** The LLM-call durations the service journaled (ms, around the SDK call), by swarm/task. */
/**
 * From the service's database once it has stopped: each LLM call's journaled duration (ms), and
 * each task's window from its projection row (`started_at` → `ended_at`, microseconds, where the
 * events' timestamps carry milliseconds).
 */
export async function journalDurations(dbUrl, dataDir) {
  const calls = `select swarm_id::text as s, task_id as t, duration_ms as d, key from agent_calls where kind = 'llm'`;
  const windows = `select swarm_id::text as s, task_id as t,
      extract(epoch from (ended_at - started_at)) * 1000 as w
    from agent_tasks where started_at is not null and ended_at is not null`;
  let rows;
  let windowRows;
  if (dbUrl) {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    rows = (await c.query(calls)).rows;
    windowRows = (await c.query(windows)).rows;
    await c.end();
  } else {
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(path.join(dataDir, 'pglite'));
    rows = (await db.query(calls)).rows;
    windowRows = (await db.query(windows)).rows;
    await db.close();
  }
  return {
    llm: new Map(rows.map((r) => [`${r.s}/${r.t}`, Number(r.d)])),
    callKey: new Map(rows.map((r) => [`${r.s}/${r.t}`, r.key])),
    window: new Map(windowRows.map((r) => [`${r.s}/${r.t}`, Number(r.w)])),
  };
}
export async function freshDb(adminUrl, name) {
  await adminQuery(adminUrl, `drop database if exists "${name}" with (force)`);
  await adminQuery(adminUrl, `create database "${name}"`);
  return withDb(adminUrl, name);
}

/** The implementer prompt the service builds (src/domain/cfn/prompts.ts), for the LangGraph side. */
export function implementerText(objective, iteration, maxIterations, feedback) {
  const parts = [`## Objective\n${objective}\n`];
  parts.push(`## Iteration\nThis is iteration ${iteration} of at most ${maxIterations}.\n`);
  if (feedback.length) {
    parts.push(
      `## Feedback from the previous iteration (address every point)\n${feedback.map((f) => `- ${f}`).join('\n')}\n`,
    );
  }
  parts.push(
    'End your answer with one JSON object: {"confidence": <0..1>, "summary": "<what you did>", "files": [<paths>]}',
  );
  return parts.join('\n');
}
export function validatorText(objective, iteration, results) {
  return [
    `## Objective\n${objective}\n`,
    `## Iteration\n${iteration}\n`,
    `## Implementers' results\n${results.map((r) => `### ${r.agent} (confidence ${r.confidence})\n${r.summary}`).join('\n\n')}\n`,
    'Review the work against the objective. End with one JSON object: ' +
      '{"score": <0..1>, "approve": <true|false>, "feedback": "<specific, actionable>"}',
  ].join('\n');
}
export const systemPrompt = (agent) => `AGENT=${agent}. Follow the output contract.`;
export function lastJson(text) {
  const i = text.lastIndexOf('{');
  return JSON.parse(text.slice(i, text.indexOf('}', i) + 1));
}
/** Connection-level retries of callFake (the SDK in the service retries these too). */
export const fakeStats = { retries: 0 };
/** An Anthropic Messages request, the same shape the SDK sends. */
export const messagesRequest = (agent, text) => ({
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'x-api-key': 'x',
    'anthropic-version': '2023-06-01',
  },
  body: JSON.stringify({
    model: MODEL,
    max_tokens: MAX_TOKENS,
    system: systemPrompt(agent),
    messages: [{ role: 'user', content: text }],
  }),
});
/** One plain-fetch Anthropic Messages call; `key` (x-cfn-call-key) names it in the fake's log. */
export async function callFake(url, agent, text, key) {
  const init = messagesRequest(agent, text);
  if (key) init.headers['x-cfn-call-key'] = key;
  let res;
  for (let attempt = 1; ; attempt++) {
    try {
      res = await fetch(`${url}/v1/messages`, init);
      break;
    } catch (err) {
      // A kept-alive socket the server closed meanwhile ("other side closed"): retry, like the SDK.
      if (attempt >= 3) throw err;
      fakeStats.retries++;
    }
  }
  const body = await res.json();
  if (res.status !== 200) throw new Error(`fake LLM: HTTP ${res.status}`);
  return lastJson(body.content.map((c) => c.text ?? '').join(''));
}

// ---- parent: processes ------------------------------------------------------------------------

export const children = new Set();
export function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
export function killChildren() {
  for (const c of children) c.kill('SIGKILL');
}
process.on('exit', killChildren);
for (const s of ['SIGINT', 'SIGTERM'])
  process.on(s, () => {
    killChildren();
    process.exit(130);
  });

export function startFake(rulesFile) {
  const child = track(
    spawn(process.execPath, [FAKE, '0'], {
      env: { PATH: process.env.PATH, FAKE_LLM_RULES: rulesFile },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, url: JSON.parse(line).url });
    });
    child.on('exit', (c) => reject(new Error(`fake LLM exited ${c}`)));
  });
}
export const fakeCount = async (url) => (await (await fetch(`${url}/_health`)).json()).requests;

export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * `cfn start` as a child. LOG_LEVEL=warn hides the `listening` line, so the port is picked here
 * (a free one) instead of PORT=0, and readiness is the first 200 from /health.
 */
export async function startService(env, nodeArgs = [], command = 'start') {
  const port = await freePort();
  const spawnedAt = Date.now();
  const child = track(
    spawn(process.execPath, [...nodeArgs, BIN, command], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        RATE_LIMIT_PER_MINUTE: '0',
        CFN_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
        ANTHROPIC_API_KEY: 'x',
        ANTHROPIC_MODEL: MODEL,
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  child.on('exit', () => (exited = true));
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    if (exited) throw new Error('the service exited during start-up');
    try {
      if ((await fetch(`${url}/health`)).status === 200) return { child, url, spawnedAt };
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  throw new Error('the service did not become healthy within 60 s');
}
export async function stopService(child) {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await done;
}

export const api = (url, p, init = {}) =>
  fetch(`${url}${p}`, {
    ...init,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
  });

export async function submit(url, body) {
  const res = await api(url, '/api/swarms', { method: 'POST', body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 202) throw new Error(`submit: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json.id;
}

export const TERMINAL = new Set([
  'completed',
  'aborted',
  'exhausted',
  'failed',
  'cancelled',
  'budget_exceeded',
]);
export const OPEN = ['queued', 'running', 'awaiting_decision'];
/**
 * Waits until no swarm is open (the service's database holds only this run's swarms), with three
 * one-row list queries every 250 ms so that watching costs the service little (the wall time is
 * taken from the events, not from when this notices); then reads the list once. The events are
 * replayed afterwards.
 */
export async function waitAll(url, ids, timeoutMs) {
  const want = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await Promise.all(
      OPEN.map(
        async (st) => (await (await api(url, `/api/swarms?limit=1&status=${st}`)).json()).items,
      ),
    );
    if (open.every((items) => items.length === 0)) {
      const { items } = await (await api(url, '/api/swarms?limit=200')).json();
      const mine = items.filter((s) => want.has(s.id));
      if (mine.length === want.size && mine.every((s) => TERMINAL.has(s.status))) return mine;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for the swarms to end');
    await sleep(250);
  }
}

export function parseSse(text) {
  const out = [];
  for (const block of text.split('\n\n')) {
    const data = block.split('\n').find((l) => l.startsWith('data: '));
    const event = block.split('\n').find((l) => l.startsWith('event: '));
    if (data && event) out.push({ type: event.slice(7), ...JSON.parse(data.slice(6)) });
  }
  return out;
}
export async function replay(url, id) {
  const res = await api(url, `/api/swarms/${id}/events`);
  if (res.status !== 200) throw new Error(`events: HTTP ${res.status}`);
  return parseSse(await res.text());
}
export async function mapLimit(xs, n, fn) {
  const out = new Array(xs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < xs.length) {
        const i = next++;
        out[i] = await fn(xs[i]);
      }
    }),
  );
  return out;
}
export async function scrapeLag(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name) => Number(text.match(new RegExp(`^${name} ([0-9.e+-]+)`, 'm'))?.[1]) * 1000;
  return {
    p99: get('nodejs_eventloop_lag_p99_seconds'),
    max: get('nodejs_eventloop_lag_max_seconds'),
  };
}

let idleBudgetMs = 180_000;
/**
 * Other work on the machine skews every figure: before each run, waits (3 minutes at most over the
 * whole benchmark) until the rest of the machine has used under 0.25 cores for 2 s.
 */
export async function waitIdle() {
  for (let first = true; ; first = false) {
    const m0 = machineBusyMs();
    await sleep(2000);
    const cores = (machineBusyMs() - m0) / 2000;
    if (cores < 0.25 || idleBudgetMs <= 0) return cores;
    if (first) process.stdout.write(`(machine busy: ${cores.toFixed(2)} cores; waiting) `);
    idleBudgetMs -= 2000;
  }
}
export function gitInfo() {
  const run = (args) =>
    new Promise((resolve) => {
      const c = spawn('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('exit', () => resolve(out.trim()));
      c.on('error', () => resolve(''));
    });
  return Promise.all([
    run(['rev-parse', '--short', 'HEAD']),
    run(['status', '--short', 'src']),
  ]).then(([head, dirty]) => ({ head, srcDirty: dirty.split('\n').filter(Boolean) }));
}
