// API throughput against a bare Express 5 route, side by side in one run: GET /api/swarms?limit=10
// (an API key, 1,000 swarms in the database) and GET /health of the real service (a child
// process) against a bare Express route answering a similar JSON body (another child process),
// both loaded by the same keep-alive load generator (a third child process); then bursts of
// concurrent POST /api/swarms. See bench/README.md.
//
// Usage: npm run build && node bench/api.mjs [--pg postgres://…/cfn_bench_api] [--no-pglite]
//          [--rounds 5] [--duration 4] [--connections 16] [--burst 200] [--bursts 3]
//          [--cpu-prof] [--only list,health,burst] [--health-path /health/live]
//          [--service-env K=V]…
//
// --pg: the database in the URL is dropped and created again for the run (the maintenance
// connection goes to the `postgres` database of the same server), and dropped at the end.
// --cpu-prof: each service runs under `node --cpu-prof` (profiles in .tmp/prof/; summarise with
// `node bench/cpuprofile-top.mjs <file>`).
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const BIN = path.join(ROOT, 'dist/main/bin.js');
const SELF = fileURLToPath(import.meta.url);
const ADMIN_KEY = 'cfn_bench_api_admin_key_0123456789abcdefghijkl';
const SEEDED = 1000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function pct(xs, p) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const median = (xs) => pct(xs, 50);
/** utime + stime of a process in ms (clock ticks of 10 ms). */
function procCpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}
/** CPU (ms) of each thread of a process, summed by thread name (main, V8 workers, libuv, ...). */
function threadCpuMs(pid) {
  const out = {};
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = tid === String(pid) ? 'main' : comm;
      out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) * 10;
    }
  } catch {
    /* gone */
  }
  return out;
}
const threadDelta = (a, b) =>
  Object.fromEntries(
    Object.entries(b)
      .map(([k, v]) => [k, v - (a[k] ?? 0)])
      .filter(([, v]) => v),
  );

/** CPU of the PostgreSQL backends connected to `db` (ms). */
function pgBackendsCpuMs(db) {
  if (!db) return 0;
  let ms = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(` ${db} `)) ms += procCpuMs(Number(entry));
    } catch {
      /* gone */
    }
  }
  return ms;
}
function machineBusyMs() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
  const [user, nice, system, , , irq, softirq, steal] = f.map(Number);
  return (user + nice + system + irq + softirq + steal) * 10;
}

// ---- the body both servers answer ------------------------------------------------------------

/** Ten items shaped like the list route's (recordView), for the bare route. */
function bareItems() {
  const items = [];
  for (let i = 0; i < 10; i++) {
    items.push({
      id: `0b0e6a4c-1f7e-4c4e-9a51-${String(i).padStart(12, '0')}`,
      objective: `Seeded swarm ${i}: implement the requested feature and its tests.`,
      strategy: 'cfn-loop',
      mode: 'standard',
      status: 'completed',
      iteration: 2,
      decision: 'PROCEED',
      reason: null,
      tokens: { input: 12345, output: 2345 },
      costUsd: 0.0123,
      createdAt: new Date(Date.now() - i * 1000).toISOString(),
      updatedAt: new Date().toISOString(),
      completedAt: new Date().toISOString(),
    });
  }
  return { items, nextCursor: 'MjAyNi0xMi0wMlQxMzo0NzowMC4wMDBafDBiMGU2YTRj' };
}

// ---- child: the bare Express server -----------------------------------------------------------

async function runBare() {
  const { default: express } = await import('express');
  const app = express();
  const startedAt = Date.now();
  app.get('/items', (_req, res) => {
    res.json(bareItems());
  });
  app.get('/health', (_req, res) => {
    res.json({
      status: 'ok',
      version: '0.1.0',
      uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
      checks: { database: { status: 'ok', latencyMs: 0.4 } },
    });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.send({ url: `http://127.0.0.1:${server.address().port}` });
  });
  process.on('message', (m) => m === 'stop' && server.close(() => process.exit(0)));
}

// ---- child: the load generator ------------------------------------------------------------------

/** Keep-alive load: `connections` loops, each one request at a time, for `durationMs`. */
async function loadRun({ origin, path: p, headers, connections, durationMs, warmupMs }) {
  const { Pool } = await import('undici');
  const pool = new Pool(origin, { connections, pipelining: 1 });
  const statuses = {};
  const lat = [];
  let count = 0;
  let measuring = false;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      const t = performance.now();
      const res = await pool.request({ path: p, method: 'GET', headers });
      await res.body.text();
      if (!measuring) continue;
      count++;
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (count % 4 === 0) lat.push(performance.now() - t);
    }
  };
  const loops = Array.from({ length: connections }, loop);
  await sleep(warmupMs);
  measuring = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  process.send({ kind: 'window-start' });
  await sleep(durationMs);
  measuring = false;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  stop = true;
  await Promise.all(loops);
  await pool.close();
  return {
    rps: count / (wallMs / 1000),
    count,
    wallMs,
    statuses,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    loadCpu: (cpu.user + cpu.system) / 1000 / wallMs,
  };
}

/**
 * `n` POST /api/swarms at once, each on its own connection opened (and used once) beforehand:
 * the time from the first being sent to each answer.
 */
async function burstRun({ origin, headers, n, round }) {
  const { Client } = await import('undici');
  const clients = Array.from({ length: n }, () => new Client(origin, { pipelining: 1 }));
  await Promise.all(
    clients.map(async (c) =>
      (await c.request({ path: '/health/live', method: 'GET' })).body.text(),
    ),
  );
  const statuses = {};
  const answered = [];
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c, i) => {
      const res = await c.request({
        path: '/api/swarms',
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'idempotency-key': `bench-${process.pid}-${round}-${i}`,
        },
        body: JSON.stringify({
          objective: `Bench burst ${round} swarm ${i}: implement the requested feature.`,
          mode: 'mvp',
        }),
      });
      const text = await res.body.text();
      answered.push(performance.now() - t0);
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (res.statusCode !== 202 && !statuses.sample) statuses.sample = text.slice(0, 300);
    }),
  );
  await Promise.all(clients.map((c) => c.close()));
  return { lastMs: Math.max(...answered), p50Ms: median(answered), statuses };
}

async function runLoadChild() {
  process.on('message', async (m) => {
    const result = m.kind === 'burst' ? await burstRun(m) : await loadRun(m);
    process.send({ kind: 'result', result });
  });
  process.send({ kind: 'ready' });
}

// ---- the orchestrating process ------------------------------------------------------------------

function forkChild(mode) {
  const child = fork(SELF, [mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

const nextMessage = (child, pred = () => true) =>
  new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (!pred(m)) return;
      child.off('message', onMsg);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (c) => reject(new Error(`child exited ${c}`));
    child.on('message', onMsg);
    child.on('exit', onExit);
  });

/**
 * Runs one load window; `cpuOf` gives the CPU (ms) of what is measured, `xactOf` the database's
 * committed transactions (PostgreSQL), both read around the window.
 */
async function measure(load, job, cpuOf, xactOf = async () => NaN, pgCpuOf = () => 0) {
  const windowStart = nextMessage(load, (m) => m.kind === 'window-start');
  const done = nextMessage(load, (m) => m.kind === 'result');
  load.send(job);
  await windowStart;
  const c0 = cpuOf();
  const p0 = pgCpuOf();
  const m0 = machineBusyMs();
  const x0 = await xactOf();
  const t0 = performance.now();
  const { result } = await done;
  // The window ends a little before the result arrives; close enough at this scale.
  const wallMs = performance.now() - t0;
  const cpu = cpuOf() - c0;
  const pgCpu = pgCpuOf() - p0;
  const machine = machineBusyMs() - m0;
  const xact = (await xactOf()) - x0;
  return {
    ...result,
    serverCores: cpu / wallMs,
    cpuUsPerReq: ((cpu + pgCpu) * 1000) / result.count,
    pgUsPerReq: (pgCpu * 1000) / result.count,
    machineCores: machine / wallMs,
    xactPerReq: xact / result.count,
  };
}

async function startService(env, nodeArgs) {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'start'], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      CFN_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let buf = '';
    let found = false;
    child.stdout.on('data', (d) => {
      if (found) return; // the access log is read and dropped, as a log collector would
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const l = JSON.parse(line);
        if (l.msg === 'listening') {
          found = true;
          resolve({ child, url: l.url, spawnedAt });
          return;
        }
      }
    });
    child.on('exit', (c) => reject(new Error(`the service exited (${c}) during start-up`)));
  });
}
async function stopService(child) {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await done;
}

/** 1,000 finished swarms with a realistic spec, inserted in one statement. */
const SEED_SQL = `
insert into swarms (id, objective, strategy, mode, status, spec, iteration, decision, last_seq,
                    input_tokens, output_tokens, cost_usd, created_by, created_at, updated_at,
                    completed_at)
select gen_random_uuid(), 'Seeded swarm ' || g || ': implement the requested feature and its tests.',
       'cfn-loop', 'standard', 'completed',
       jsonb_build_object('objective', 'Seeded swarm ' || g, 'strategy', 'cfn-loop',
         'mode', 'standard', 'agents', jsonb_build_array('coder'),
         'validators', jsonb_build_array(jsonb_build_object('kind', 'agent', 'agent', 'reviewer')),
         'approval', 'auto', 'gate', 0.75, 'consensus', 0.9, 'maxIterations', 10, 'maxAttempts', 2),
       2, 'PROCEED', 12, 12345, 2345, 0.0123, 'seed',
       now() - (g || ' seconds')::interval, now(), now()
from generate_series(1, ${SEEDED}) g`;

async function pgClient(url) {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}
async function recreateDb(url) {
  const u = new URL(url);
  const db = decodeURIComponent(u.pathname.slice(1));
  if (!/^[a-z0-9_]+$/.test(db)) throw new Error(`unexpected database name ${db}`);
  u.pathname = '/postgres';
  const c = await pgClient(u.toString());
  try {
    await c.query(`drop database if exists "${db}" with (force)`);
    await c.query(`create database "${db}"`);
  } finally {
    await c.end();
  }
  return {
    db,
    async drop() {
      const d = await pgClient(u.toString());
      try {
        await d.query(`drop database if exists "${db}" with (force)`);
      } finally {
        await d.end();
      }
    },
  };
}

function parseArgs(argv) {
  const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
  const serviceEnv = {};
  argv.forEach((a, i) => {
    if (a === '--service-env') {
      const [k, ...v] = argv[i + 1].split('=');
      serviceEnv[k] = v.join('=');
    }
  });
  return {
    pg: opt('--pg', undefined),
    pglite: !argv.includes('--no-pglite'),
    rounds: Number(opt('--rounds', 5)),
    durationMs: Number(opt('--duration', 4)) * 1000,
    connections: Number(opt('--connections', 16)),
    burst: Number(opt('--burst', 200)),
    bursts: Number(opt('--bursts', 3)),
    cpuProf: argv.includes('--cpu-prof'),
    only: opt('--only', 'list,health,burst').split(','),
    healthPath: opt('--health-path', '/health'),
    serviceEnv,
  };
}

async function benchProfile(name, options, bare, load, fakeUrl) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-bench-api-'));
  const profDir = path.join(ROOT, '.tmp/prof');
  const env = {
    CFN_DATA_DIR: dataDir,
    // High enough not to refuse the load, so the limiter still counts every request.
    RATE_LIMIT_PER_MINUTE: '1000000',
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: fakeUrl,
    ...options.serviceEnv,
  };
  let dropDb;
  let dbName;
  if (name === 'postgres') {
    const made = await recreateDb(options.pg);
    dropDb = made.drop;
    dbName = made.db;
    env.DATABASE_URL = options.pg;
  }
  try {
    // Start once to migrate, stop, seed (PGlite: the directory is the service's alone while it
    // runs), then start the measured process.
    const first = await startService(env, []);
    await stopService(first.child);
    if (name === 'postgres') {
      const c = await pgClient(options.pg);
      await c.query(SEED_SQL);
      await c.query('analyze swarms');
      await c.end();
    } else {
      const { PGlite } = await import('@electric-sql/pglite');
      const db = await PGlite.create(path.join(dataDir, 'pglite'));
      await db.exec(SEED_SQL);
      await db.close();
    }
    const nodeArgs = options.cpuProf
      ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=api-${name}.cpuprofile`]
      : [];
    const svc = await startService(env, nodeArgs);
    const svcCpu = () => procCpuMs(svc.child.pid);
    const pgCpu = () => pgBackendsCpuMs(dbName);
    const bareCpu = () => procCpuMs(bare.pid);
    const stats = name === 'postgres' ? await pgClient(options.pg) : undefined;
    const xactOf = async () =>
      stats
        ? Number(
            (
              await stats.query(
                'select xact_commit from pg_stat_database where datname = current_database()',
              )
            ).rows[0].xact_commit,
          )
        : NaN;
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    const check = await fetch(`${svc.url}/api/swarms?limit=10`, { headers: auth });
    const body = await check.json();
    if (check.status !== 200 || body.items?.length !== 10)
      throw new Error(`list: HTTP ${check.status} ${JSON.stringify(body).slice(0, 300)}`);
    const job = (origin, p, headers = {}) => ({
      kind: 'load',
      origin,
      path: p,
      headers,
      connections: options.connections,
      durationMs: options.durationMs,
      warmupMs: 1000,
    });
    const rounds = [];
    for (let r = 0; r < options.rounds; r++) {
      const order = [
        ['bareItems', () => measure(load, job(bare.url, '/items'), bareCpu)],
        [
          'list',
          () => measure(load, job(svc.url, '/api/swarms?limit=10', auth), svcCpu, xactOf, pgCpu),
        ],
        ['bareHealth', () => measure(load, job(bare.url, '/health'), bareCpu)],
        ['health', () => measure(load, job(svc.url, options.healthPath), svcCpu, xactOf, pgCpu)],
      ];
      if (r % 2 === 1) order.reverse(); // drift does not always favour one side
      const round = {};
      const wanted = (k) => options.only.includes(/health/i.test(k) ? 'health' : 'list');
      for (const [k, run] of order) round[k] = wanted(k) ? await run() : { rps: NaN };
      round.listRatio = round.list.rps / round.bareItems.rps;
      round.healthRatio = round.health.rps / round.bareHealth.rps;
      rounds.push(round);
      console.error(
        `[${name}] round ${r + 1}: list ${round.list.rps.toFixed(0)} / bare ${round.bareItems.rps.toFixed(0)} = ${round.listRatio.toFixed(2)}; ` +
          `health ${round.health.rps.toFixed(0)} / bare ${round.bareHealth.rps.toFixed(0)} = ${round.healthRatio.toFixed(2)}`,
      );
    }
    const bursts = [];
    for (let b = 0; b < (options.only.includes('burst') ? options.bursts : 0); b++) {
      await sleep(2000); // the last burst's swarms start (their LLM calls then hang)
      const done = nextMessage(load, (m) => m.kind === 'result');
      const c0 = svcCpu();
      const t0 = threadCpuMs(svc.child.pid);
      const p0 = pgCpu();
      const x0 = await xactOf();
      const from = performance.now() - svc.spawnedAt;
      load.send({ kind: 'burst', origin: svc.url, headers: auth, n: options.burst, round: b });
      const { result } = await done;
      // With --cpu-prof: the last burst's window, for bench/cpuprofile-top.mjs.
      if (options.cpuProf)
        fs.writeFileSync(
          path.join(profDir, `api-${name}.cpuprofile.window.json`),
          JSON.stringify({ fromMs: from, toMs: performance.now() - svc.spawnedAt }),
        );
      // Includes the connections' warm-up (a GET each) and the swarms starting meanwhile.
      result.serviceCpuMs = svcCpu() - c0;
      result.threads = threadDelta(t0, threadCpuMs(svc.child.pid));
      result.pgCpuMs = pgCpu() - p0;
      result.xact = (await xactOf()) - x0;
      bursts.push(result);
      console.error(
        `[${name}] burst ${b + 1}: ${JSON.stringify(result.statuses)} last ${result.lastMs.toFixed(0)} ms, p50 ${result.p50Ms.toFixed(0)} ms; service CPU ${result.serviceCpuMs} ms, PostgreSQL ${result.pgCpuMs} ms, ${result.xact} transactions; threads ${JSON.stringify(result.threads)}`,
      );
    }
    await stats?.end();
    await stopService(svc.child);
    return { name, rounds, bursts, burst: options.burst };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
    await dropDb?.();
  }
}

function summarise(p) {
  const pick = (k, f) => median(p.rounds.map((r) => f(r[k])));
  const rps = (k) => pick(k, (x) => x.rps);
  const us = (k) => pick(k, (x) => x.cpuUsPerReq);
  const lat = (k) => `${pick(k, (x) => x.p50).toFixed(1)} / ${pick(k, (x) => x.p99).toFixed(1)}`;
  const pgUs = (k) => pick(k, (m) => m.pgUsPerReq);
  const xact = (k) => {
    const x = pick(k, (m) => m.xactPerReq);
    return Number.isNaN(x) ? '–' : x.toFixed(2);
  };
  const ratio = (k) => median(p.rounds.map((r) => r[k]));
  const ratios = (k) => p.rounds.map((r) => r[k].toFixed(2)).join(', ');
  const lastMs = median(p.bursts.map((b) => b.lastMs));
  const accepted = p.bursts.map((b) => b.statuses[202] ?? 0);
  const rows = [];
  if (p.rounds[0]?.list.count !== undefined)
    rows.push(
      `| ${p.name} | GET /api/swarms?limit=10 | ${rps('list').toFixed(0)} | ${rps('bareItems').toFixed(0)} | **${ratio('listRatio').toFixed(2)}×** (${ratios('listRatio')}) | ≥ 0.4× | ${us('list').toFixed(0)} (PG ${pgUs('list').toFixed(0)}) / ${us('bareItems').toFixed(0)} | ${xact('list')} | ${lat('list')} |`,
    );
  if (p.rounds[0]?.health.count !== undefined)
    rows.push(
      `| ${p.name} | GET /health | ${rps('health').toFixed(0)} | ${rps('bareHealth').toFixed(0)} | **${ratio('healthRatio').toFixed(2)}×** (${ratios('healthRatio')}) | ≥ 0.8× | ${us('health').toFixed(0)} (PG ${pgUs('health').toFixed(0)}) / ${us('bareHealth').toFixed(0)} | ${xact('health')} | ${lat('health')} |`,
    );
  if (p.bursts.length)
    rows.push(
      `| ${p.name} | ${p.burst} concurrent POST /api/swarms | last 202 after **${lastMs.toFixed(0)} ms** (${p.bursts.map((b) => b.lastMs.toFixed(0)).join(', ')}); 202s: ${accepted.join(', ')} | | | | ≤ 500 ms | | | p50 ${median(p.bursts.map((b) => b.p50Ms)).toFixed(0)} ms |`,
    );
  return rows;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(BIN)) throw new Error('run `npm run build` first');
  const { startFakeLlm } = await import(path.join(ROOT, 'test/support/fake-llm-core.mjs'));
  // Swarms submitted by the bursts start, and their first LLM call never answers: nothing ends
  // (or costs CPU) while the service is measured.
  const fake = await startFakeLlm({ responder: () => ({ hang: true }) });
  const bare = forkChild('--bare');
  const { url: bareUrl } = await nextMessage(bare);
  const load = forkChild('--load');
  await nextMessage(load, (m) => m.kind === 'ready');
  const profiles = [];
  try {
    if (options.pglite)
      profiles.push(
        await benchProfile('PGlite', options, { url: bareUrl, pid: bare.pid }, load, fake.url),
      );
    if (options.pg)
      profiles.push(
        await benchProfile('postgres', options, { url: bareUrl, pid: bare.pid }, load, fake.url),
      );
  } finally {
    bare.send('stop');
    load.kill();
    await fake.close();
  }
  let commit = '';
  try {
    commit = fs.readFileSync(path.join(ROOT, 'dist/build-info.json'), 'utf8');
    commit = JSON.parse(commit).commit ?? '';
  } catch {
    /* unknown */
  }
  console.log(
    `\nnode ${process.version}, ${os.cpus().length} cores, build ${commit}; ${options.rounds} rounds of ${options.durationMs / 1000} s, ${options.connections} connections; ${SEEDED} swarms seeded\n`,
  );
  console.log(
    '| profile | measurement | service req/s | bare Express req/s | ratio (median; each round) | target | CPU µs/req service / bare | PG xact/req | service p50 / p99 ms |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const p of profiles) for (const line of summarise(p)) console.log(line);
  const out = path.join(ROOT, `bench/results/api-${new Date().toISOString().slice(0, 19)}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ options, profiles }, null, 2));
  console.log(`\nraw figures: ${path.relative(ROOT, out)}`);
}

if (process.argv[2] === '--bare') await runBare();
else if (process.argv[2] === '--load') await runLoadChild();
else await main();
