// Orchestration throughput and overhead: the real service (a child process) against LangGraph (a
// StateGraph per swarm, in its own child process), both driving the same fake LLM (a third
// process) that answers instantly with valid contract replies. See bench/README.md.
//
// Usage: npm run build && node bench/orchestration.mjs [--quick] [--pg postgres://…/db]
//          [--max-agents 64] [--only cfn|langgraph] [--workload a|b] [--cpu-prof]
//          [--count-queries] [--service-env K=V]… [--no-wait-idle] [--rounds N] [--warmup N]
//
// --pg: the database in the URL is only the maintenance connection; every run gets a scratch
// database created next to it (<db>_<run>) and dropped at the end, so each run starts empty.
// --cpu-prof: the service child of workload (b) runs with --cpu-prof (bench/results/prof/).
// --count-queries: the PostgreSQL service goes through a counting proxy (diagnostic only).
// --service-env K=V: extra service configuration for experiments, e.g. DATABASE_POOL_MAX=40.
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  BIN,
  ROOT,
  adminQuery,
  callFake,
  cpuDelta,
  cpuSnapshot,
  dbNameOf,
  fakeCount,
  fakeStats,
  freshDb,
  gitInfo,
  implementerText,
  journalDurations,
  mapLimit,
  median,
  messagesRequest,
  pct,
  pgStats,
  procCpuMs,
  procStatus,
  redisServerPid,
  replay,
  scrapeLag,
  sleep,
  startFake,
  startService,
  stopService,
  submit,
  systemPrompt,
  track,
  validatorText,
  waitAll,
  waitIdle,
} from './lib/kit.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const OBJECTIVE = (w, i) => `Benchmark ${w} swarm ${i}: implement the requested feature.`;
const WARMUP_OBJECTIVE = 'zqwarm xqprime';

// ---- workloads ----------------------------------------------------------------------------------

const quick = process.argv.includes('--quick');
const arg = (name) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;
const WORKLOADS = quick
  ? {
      a: { name: 'a', swarms: 1, agents: 20, iterations: 5, passAt: 0, prefix: 'impl-long-' },
      b: { name: 'b', swarms: 10, agents: 10, iterations: 3, passAt: 3, prefix: 'impl-' },
      c: { name: 'c', swarms: 1, agents: 1, iterations: 10, passAt: 0, prefix: 'impl-long-' },
    }
  : {
      a: { name: 'a', swarms: 1, agents: 20, iterations: 50, passAt: 0, prefix: 'impl-long-' },
      b: { name: 'b', swarms: 100, agents: 10, iterations: 3, passAt: 3, prefix: 'impl-' },
      // One call at a time: the time between one answer and the next request is all orchestration.
      c: { name: 'c', swarms: 1, agents: 1, iterations: 50, passAt: 0, prefix: 'impl-long-' },
    };
const agentNames = (wl) =>
  Array.from({ length: wl.agents }, (_, i) => `${wl.prefix}${String(i).padStart(2, '0')}`);
/** LLM calls a workload makes: every implementer each iteration, plus the validator when it passes. */
const expectedTasks = (wl) => wl.swarms * (wl.agents * wl.iterations + (wl.passAt ? 1 : 0));
const describe = (wl) =>
  wl.passAt
    ? `${wl.swarms} swarms × (${wl.agents} implementers × ${wl.iterations} iterations + 1 validator)`
    : wl.agents === 1
      ? `${wl.swarms} swarm × 1 implementer × ${wl.iterations} iterations, one call at a time`
      : `${wl.swarms} swarm × ${wl.agents} implementers × ${wl.iterations} iterations (gate always fails)`;

// ---- LangGraph child ---------------------------------------------------------------------------

async function langGraphChild(cfg) {
  // LangGraph adds one abort listener per parallel task to a shared signal: not a leak.
  const { EventEmitter } = await import('node:events');
  EventEmitter.defaultMaxListeners = 0;
  const { Annotation, StateGraph, Send, START, END, MemorySaver } =
    await import('@langchain/langgraph');
  const wl = cfg.wl;
  const tasks = [];
  let calls = 0;
  const last = (_a, b) => b;
  const State = Annotation.Root({
    objective: Annotation({ reducer: last, default: () => '' }),
    iteration: Annotation({ reducer: last, default: () => 0 }),
    feedback: Annotation({ reducer: last, default: () => [] }),
    results: Annotation({
      reducer: (a, b) => (b === null ? [] : a.concat(b)),
      default: () => [],
    }),
    gateResult: Annotation({ reducer: last, default: () => null }),
    consensusResult: Annotation({ reducer: last, default: () => null }),
    status: Annotation({ reducer: last, default: () => 'running' }),
  });
  const agents = agentNames(wl);
  const GATE = 0.7; // mvp
  const CONSENSUS = 0.8;

  let nextKey = 0;
  async function timed(kind, iteration, agent, fn) {
    const key = `lg-${process.pid}-${nextKey++}`;
    const start = performance.now();
    const out = await fn(key);
    calls++;
    tasks.push({ kind, iteration, start, end: performance.now(), key });
    void agent;
    return out;
  }

  const graph = new StateGraph(State)
    .addNode('plan', (s) => ({ iteration: s.iteration + 1, results: null, gateResult: null }))
    .addNode('implementer', async (input) => {
      const out = await timed('implement', input.iteration, input.agent, (key) =>
        callFake(
          cfg.fakeUrl,
          input.agent,
          implementerText(input.objective, input.iteration, wl.iterations, input.feedback),
          key,
        ),
      );
      return {
        results: [{ agent: input.agent, confidence: Number(out.confidence), summary: out.summary }],
      };
    })
    .addNode('gate', (s) => {
      const score = s.results.reduce((a, r) => a + r.confidence, 0) / s.results.length;
      const passed = score >= GATE;
      const feedback = passed
        ? []
        : [
            `Confidence gate failed: mean confidence ${score.toFixed(3)} is below ${GATE}.`,
            ...s.results
              .filter((r) => r.confidence < GATE)
              .map((r) => `${r.agent} reported confidence ${r.confidence}: ${r.summary}`),
          ];
      return { gateResult: { score, passed }, feedback };
    })
    .addNode('validator', async (s) => {
      const out = await timed('validate', s.iteration, 'val', (key) =>
        callFake(cfg.fakeUrl, 'val', validatorText(s.objective, s.iteration, s.results), key),
      );
      const score = Number(out.score);
      return {
        consensusResult: { score, passed: score >= CONSENSUS },
        feedback: score >= CONSENSUS ? [] : [`val: ${out.feedback}`],
      };
    })
    .addNode('finish', (s) => ({ status: s.consensusResult?.passed ? 'completed' : 'exhausted' }))
    .addEdge(START, 'plan')
    .addConditionalEdges('plan', (s) =>
      agents.map(
        (agent) =>
          new Send('implementer', {
            agent,
            iteration: s.iteration,
            objective: s.objective,
            feedback: s.feedback,
          }),
      ),
    )
    .addEdge('implementer', 'gate')
    .addConditionalEdges('gate', (s) =>
      s.gateResult.passed ? 'validator' : s.iteration < wl.iterations ? 'plan' : 'finish',
    )
    .addConditionalEdges('validator', (s) =>
      s.consensusResult.passed || s.iteration >= wl.iterations ? 'finish' : 'plan',
    )
    .addEdge('finish', END);

  let checkpointer;
  let pgDb;
  if (cfg.saver === 'postgres') {
    const { PostgresSaver } = await import('@langchain/langgraph-checkpoint-postgres');
    checkpointer = PostgresSaver.fromConnString(cfg.pgUrl);
    await checkpointer.setup();
    pgDb = dbNameOf(cfg.pgUrl);
  } else if (cfg.saver === 'memory') {
    checkpointer = new MemorySaver();
  }
  const app = graph.compile(checkpointer ? { checkpointer } : {});
  const invoke = (objective, thread) =>
    app.invoke(
      { objective },
      {
        recursionLimit: 10_000,
        ...(cfg.durability ? { durability: cfg.durability } : {}),
        configurable: { thread_id: thread },
      },
    );

  // Warm-up (JIT, connection pools), the same as the service's warm-up swarm: not measured.
  {
    const saved = { ...wl };
    Object.assign(wl, { iterations: 3, passAt: 3 });
    await invoke(WARMUP_OBJECTIVE, `warmup-${process.pid}`);
    Object.assign(wl, saved);
  }
  // Then whole unmeasured passes of the workload (--warmup N), so that both sides are measured
  // with their code optimised by the JIT rather than during it.
  for (let k = 0; k < (cfg.warmupPasses ?? 0); k++)
    await Promise.all(
      Array.from({ length: wl.swarms }, (_, i) =>
        invoke(OBJECTIVE(`${wl.name}-warmup${k}`, i), `w${k}-${i}`),
      ),
    );
  tasks.length = 0;
  calls = 0;
  fakeStats.retries = 0;
  const idleRss = procStatus(process.pid, 'VmRSS');
  const pgStart = cfg.saver === 'postgres' ? await pgStats(cfg.pgUrl) : undefined;
  await sleep(200);
  const cpu0 = cpuSnapshot(process.pid, cfg.fakePid, pgDb);
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const t0 = performance.now();
  const finals = await Promise.all(
    Array.from({ length: wl.swarms }, (_, i) => invoke(OBJECTIVE(wl.name, i), `s-${i}`)),
  );
  const wallMs = performance.now() - t0;
  eld.disable();
  const cpu = cpuDelta(cpu0, cpuSnapshot(process.pid, cfg.fakePid, pgDb), wallMs);
  const statuses = {};
  for (const f of finals) statuses[f.status] = (statuses[f.status] ?? 0) + 1;

  // The orchestration latency between rounds of workload (a): the last implementer of an
  // iteration ending -> the first implementer of the next one starting.
  const gaps = [];
  if (wl.swarms === 1) {
    const byIt = new Map();
    for (const t of tasks.filter((x) => x.kind === 'implement')) {
      const it = byIt.get(t.iteration) ?? { first: Infinity, last: 0 };
      it.first = Math.min(it.first, t.start);
      it.last = Math.max(it.last, t.end);
      byIt.set(t.iteration, it);
    }
    for (let i = 1; byIt.has(i + 1); i++) gaps.push(byIt.get(i + 1).first - byIt.get(i).last);
  }
  let pgEnd;
  if (checkpointer && cfg.saver === 'postgres') {
    await checkpointer.end();
    await sleep(100);
    pgEnd = await pgStats(cfg.pgUrl);
  }
  return {
    tasks: calls,
    retries: fakeStats.retries,
    wallMs,
    statuses,
    durations: tasks.map((t) => t.end - t.start),
    callKeys: tasks.map((t) => t.key),
    gaps,
    cpu,
    pgXacts: pgEnd && pgStart ? pgEnd.xact - pgStart.xact : undefined,
    pgRows: pgEnd && pgStart ? pgEnd.ins - pgStart.ins + (pgEnd.upd - pgStart.upd) : undefined,
    idleRssMb: idleRss,
    peakRssMb: procStatus(process.pid, 'VmHWM'),
    eldP99Ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
  };
}

// ---- raw BullMQ floor ------------------------------------------------------------------------

/**
 * The floor's call: the agent's request shape over undici's request API with a keep-alive pool
 * (the service's own HTTP client), its answer read in full; nothing persisted.
 */
let floorPool;
async function floorCall(url, i) {
  const { Pool } = await import('undici');
  floorPool ??= new Pool(url, { connections: 128 });
  const res = await floorPool.request({
    path: '/v1/messages',
    ...messagesRequest('impl', `floor task ${i}`),
  });
  await res.body.json();
  if (res.statusCode !== 200) throw new Error(`fake LLM: HTTP ${res.statusCode}`);
}

/**
 * A child that runs no-op jobs (or, with `fakeUrl`, jobs that each make one fake-LLM call and
 * nothing else): reports ready, starts on 'go' from the parent.
 */
async function bullmqFloorChild(cfg) {
  const { Worker } = await import('bullmq');
  const { Redis } = await import('ioredis');
  const connection = new Redis(cfg.redisUrl, { maxRetriesPerRequest: null });
  const handler = cfg.fakeUrl ? (job) => floorCall(cfg.fakeUrl, job.data.i) : async () => {};
  const worker = new Worker(cfg.queue, handler, {
    connection,
    prefix: cfg.prefix,
    concurrency: cfg.concurrency,
    autorun: false,
  });
  process.on('message', async (m) => {
    if (m === 'go') void worker.run();
    if (m === 'stop') {
      await worker.close();
      connection.disconnect();
      process.exit(0);
    }
  });
  await worker.waitUntilReady();
  process.send('ready');
}

/**
 * The raw BullMQ floor: `jobs` no-op jobs, queued first, then taken by `workers` processes of
 * `concurrency` each through the same Redis; jobs/s from the start signal to the last completion.
 */
async function bullmqFloor(redisUrl, { jobs, workers, concurrency, fakeUrl }) {
  const { Queue } = await import('bullmq');
  const { Redis } = await import('ioredis');
  const prefix = `cfnfloor${process.pid}w${workers}${fakeUrl ? 'llm' : ''}`;
  const queue = 'floor';
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const q = new Queue(queue, { connection, prefix });
  for (let i = 0; i < jobs; i += 1000)
    await q.addBulk(
      Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({
        name: 'noop',
        data: { i: i + k },
        opts: { removeOnComplete: false, attempts: 5 },
      })),
    );
  const children = [];
  for (let w = 0; w < workers; w++) {
    const child = track(
      fork(
        SELF,
        ['--bullmq-floor-child', JSON.stringify({ redisUrl, prefix, queue, concurrency, fakeUrl })],
        {
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        },
      ),
    );
    await new Promise((r) => child.once('message', r));
    children.push(child);
  }
  const redisPid = redisServerPid();
  const cpu0 = children.reduce((a, c) => a + procCpuMs(c.pid), 0);
  const r0 = redisPid ? procCpuMs(redisPid) : 0;
  const t0 = performance.now();
  for (const c of children) c.send('go');
  for (;;) {
    const c = await q.getJobCounts('completed', 'failed');
    if (c.failed) throw new Error(`raw BullMQ floor: ${c.failed} job(s) failed`);
    if ((c.completed ?? 0) >= jobs) break;
    await sleep(20);
  }
  const wallMs = performance.now() - t0;
  const cpu = children.reduce((a, c) => a + procCpuMs(c.pid), 0) - cpu0;
  const redisCpu = redisPid ? procCpuMs(redisPid) - r0 : 0;
  for (const c of children) c.send('stop');
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
  await q.obliterate({ force: true });
  await q.close();
  connection.disconnect();
  return {
    jobs,
    workers,
    concurrency,
    llmCall: Boolean(fakeUrl),
    wallS: wallMs / 1000,
    jobsPerS: jobs / (wallMs / 1000),
    workerCpuMsPerJob: cpu / jobs,
    redisCpuMsPerJob: redisCpu / jobs,
  };
}

if (process.argv[2] === '--bullmq-floor-child') {
  await bullmqFloorChild(JSON.parse(process.argv[3]));
} else if (process.argv[2] === '--langgraph-child') {
  const cfg = JSON.parse(process.argv[3]);
  const out = await langGraphChild(cfg);
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

/**
 * A TCP proxy in front of PostgreSQL that counts the frontend protocol messages: Execute ('E')
 * and simple Query ('Q') are statements, Sync ('S') ends an extended-protocol round trip.
 * Diagnostic only (--count-queries): the extra hop changes the timings.
 */
async function startCountingProxy(pgUrl) {
  const target = new URL(pgUrl);
  const counts = { statements: 0, roundTrips: 0, connections: 0 };
  const server = net.createServer((client) => {
    counts.connections++;
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    let buf = Buffer.alloc(0);
    let startup = true;
    client.on('data', (d) => {
      upstream.write(d);
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (startup) {
          if (buf.length < 8) break;
          const len = buf.readInt32BE(0);
          if (buf.length < len) break;
          const code = buf.readInt32BE(4);
          buf = buf.subarray(len);
          if (code !== 80877103 && code !== 80877104) startup = false; // not SSL/GSS requests
          continue;
        }
        if (buf.length < 5) break;
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) break;
        const type = String.fromCharCode(buf[0]);
        if (type === 'E' || type === 'Q') counts.statements++;
        if (type === 'S' || type === 'Q') counts.roundTrips++;
        buf = buf.subarray(len + 1);
      }
    });
    upstream.on('data', (d) => client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const u = new URL(pgUrl);
  u.hostname = '127.0.0.1';
  u.port = String(server.address().port);
  return { url: u.toString(), counts, close: () => server.close() };
}

// ---- parent: the service run ------------------------------------------------------------------

async function runService({
  backend,
  wl,
  agentsDir,
  fakeUrl,
  fakePid,
  adminPg,
  maxAgents,
  serviceEnv,
  cpuProf,
  countQueries,
  workers = 0,
  redisUrl,
  warmupPasses = 0,
}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-bench-orch-'));
  let dbUrl;
  if (backend === 'postgres' || backend === 'distributed')
    dbUrl = await freshDb(adminPg, `${dbNameOf(adminPg)}_svc_${backend}_${wl.name}`);
  // The distributed profile: `cfn serve` takes the API calls, `workers` × `cfn worker` run the
  // jobs through BullMQ on the machine's Redis (a key prefix of this run).
  const shared =
    backend === 'distributed'
      ? {
          REDIS_URL: redisUrl,
          REDIS_PREFIX: `cfnbench${process.pid}${wl.name}${workers}`,
        }
      : {};
  const proxy = dbUrl && countQueries ? await startCountingProxy(dbUrl) : undefined;
  const profDir = path.join(HERE, 'results/prof');
  if (cpuProf) {
    fs.mkdirSync(profDir, { recursive: true });
    fs.writeFileSync(path.join(profDir, '.gitignore'), '*\n'); // profiles are large: never committed
  }
  const profName = `service-${backend}-${wl.name}.cpuprofile`;
  const { child, url, spawnedAt } = await startService(
    {
      CFN_DATA_DIR: dataDir,
      CFN_AGENTS_DIR: agentsDir,
      CFN_MAX_CONCURRENT_AGENTS: String(maxAgents),
      // Every swarm of a workload runs at once, as LangGraph's do (the default runs 50 at a time).
      CFN_WORKER_MAX_SWARMS: '1000',
      ANTHROPIC_BASE_URL: fakeUrl,
      ...(dbUrl ? { DATABASE_URL: proxy ? proxy.url : dbUrl } : {}),
      ...shared,
      ...serviceEnv,
    },
    cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${profName}`] : [],
    backend === 'distributed' ? 'serve' : 'start',
  );
  const workerProcs = [];
  for (let i = 0; i < workers; i++) {
    workerProcs.push(
      (
        await startService(
          {
            CFN_DATA_DIR: dataDir,
            CFN_AGENTS_DIR: agentsDir,
            CFN_MAX_CONCURRENT_AGENTS: String(Math.ceil(maxAgents / workers)),
            ANTHROPIC_BASE_URL: fakeUrl,
            DATABASE_URL: dbUrl,
            ...shared,
            ...serviceEnv,
          },
          [],
          'worker',
        )
      ).child,
    );
  }
  const pids = [child.pid, ...workerProcs.map((w) => w.pid)];
  const redisPid = backend === 'distributed' ? redisServerPid() : undefined;
  try {
    // Warm-up swarm (JIT, pools): 3 iterations of one implementer + the validator; not measured.
    const w = await submit(url, {
      objective: WARMUP_OBJECTIVE,
      strategy: 'cfn-loop',
      mode: 'mvp',
      agents: ['impl-00'],
      validators: ['val'],
      maxIterations: 3,
    });
    await waitAll(url, [w], 60_000);
    for (let k = 0; k < warmupPasses; k++) {
      const ws = await Promise.all(
        Array.from({ length: wl.swarms }, (_, i) =>
          submit(url, {
            objective: OBJECTIVE(`${wl.name}-warmup${k}`, i),
            strategy: 'cfn-loop',
            mode: 'mvp',
            agents: agentNames(wl),
            validators: ['val'],
            maxIterations: wl.iterations,
          }),
        ),
      );
      await waitAll(url, ws, 300_000);
    }
    await sleep(300);
    const idleRss = pids.reduce((a, p) => a + procStatus(p, 'VmRSS'), 0);
    const pgStart = dbUrl ? await pgStats(dbUrl) : undefined;
    const fake0 = await fakeCount(fakeUrl);
    await scrapeLag(url); // resets prom-client's event-loop histogram: the next scrape covers the run
    const dbName = dbUrl ? dbNameOf(dbUrl) : undefined;
    const cpu0 = cpuSnapshot(pids, fakePid, dbName, redisPid);
    const q0 = proxy ? { ...proxy.counts } : undefined;

    const t0 = Date.now();
    const agents = agentNames(wl);
    const ids = await Promise.all(
      Array.from({ length: wl.swarms }, (_, i) =>
        submit(url, {
          objective: OBJECTIVE(wl.name, i),
          strategy: 'cfn-loop',
          mode: 'mvp',
          agents,
          validators: ['val'],
          maxIterations: wl.iterations,
        }),
      ),
    );
    const records = await waitAll(url, ids, 300_000);
    const detectedMs = Date.now() - t0;
    if (cpuProf) {
      // The measured window, in ms since the process was spawned (cpuprofile-top.mjs reads it).
      fs.writeFileSync(
        path.join(profDir, `${profName}.window.json`),
        JSON.stringify({ fromMs: t0 - spawnedAt, toMs: t0 + detectedMs - spawnedAt }),
      );
    }
    const cpu = cpuDelta(cpu0, cpuSnapshot(pids, fakePid, dbName, redisPid), detectedMs);
    const queries = proxy
      ? {
          statements: proxy.counts.statements - q0.statements,
          roundTrips: proxy.counts.roundTrips - q0.roundTrips,
        }
      : undefined;
    const lag = await scrapeLag(url);
    const peakRss = pids.reduce((a, p) => a + procStatus(p, 'VmHWM'), 0);
    const fakeCalls = (await fakeCount(fakeUrl)) - fake0;

    const all = await mapLimit(ids, 8, (id) => replay(url, id));
    await stopService(child);
    for (const w of workerProcs) await stopService(w);
    const pgEnd = dbUrl ? await pgStats(dbUrl) : undefined;
    const journal = await journalDurations(dbUrl, dataDir);
    const llmMs = [];
    const engineMs = [];
    let tasks = 0;
    let end = 0;
    const durations = [];
    const callKeys = [];
    const queueWaits = [];
    const gaps = [];
    for (const [k, events] of all.entries()) {
      const byTask = new Map();
      for (const e of events) {
        const at = Date.parse(e.at);
        if (e.type === 'swarm.completed') end = Math.max(end, at);
        if (!e.taskId) continue;
        const t = byTask.get(e.taskId) ?? {};
        if (e.type === 'task.scheduled')
          Object.assign(t, { scheduled: at, iteration: e.iteration });
        if (e.type === 'task.started') t.started = at;
        if (e.type === 'task.succeeded' || e.type === 'task.failed') {
          t.ended = at;
          tasks++;
        }
        byTask.set(e.taskId, t);
      }
      const byIt = new Map();
      for (const [taskId, t] of byTask) {
        if (t.started !== undefined && t.ended !== undefined) {
          const window = journal.window.get(`${ids[k]}/${taskId}`) ?? t.ended - t.started;
          durations.push(window);
          callKeys.push(journal.callKey.get(`${ids[k]}/${taskId}`));
          const d = journal.llm.get(`${ids[k]}/${taskId}`);
          if (d !== undefined) {
            llmMs.push(d);
            engineMs.push(window - d);
          }
        }
        if (t.started !== undefined) queueWaits.push(t.started - t.scheduled);
        if (!taskId.includes('.implement.') || t.ended === undefined) continue;
        const it = byIt.get(t.iteration) ?? { first: Infinity, last: 0 };
        it.first = Math.min(it.first, t.started);
        it.last = Math.max(it.last, t.ended);
        byIt.set(t.iteration, it);
      }
      if (wl.swarms === 1)
        for (let i = 1; byIt.has(i + 1); i++) gaps.push(byIt.get(i + 1).first - byIt.get(i).last);
    }
    const statuses = {};
    for (const r of records) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    return {
      tasks,
      fakeCalls,
      wallMs: end - t0,
      detectedMs,
      statuses,
      durations,
      callKeys,
      queueWaits,
      llmMs,
      engineMs,
      gaps,
      cpu,
      queries,
      pgXacts: pgEnd ? pgEnd.xact - pgStart.xact : undefined,
      pgRows: pgEnd ? pgEnd.ins - pgStart.ins + (pgEnd.upd - pgStart.upd) : undefined,
      idleRssMb: idleRss,
      peakRssMb: peakRss,
      eldP99Ms: lag.p99,
      eldMaxMs: lag.max,
    };
  } finally {
    await stopService(child);
    for (const w of workerProcs) await stopService(w);
    proxy?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function runLangGraph(cfg) {
  const child = track(
    spawn(process.execPath, [SELF, '--langgraph-child', JSON.stringify(cfg)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => (buf += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line));
      else reject(new Error(`LangGraph child exited ${code}`));
    });
  });
}

// ---- parent: main -----------------------------------------------------------------------------

/**
 * Workload (c) makes one call at a time: from the fake's own clock, the time between the end of
 * one answer and the arrival of the next request is the orchestrator's whole per-step overhead
 * (reading the answer, persisting it, deciding, scheduling, starting and sending the next call).
 * The last `n` requests of the run are the measured chain (the warm-up came before them).
 */
function stepGaps(timings, n) {
  const chain = [...timings].sort((x, y) => x.id - y.id).slice(-n);
  const gaps = [];
  for (let i = 1; i < chain.length; i++) gaps.push(chain[i].receivedAt - chain[i - 1].respondedAt);
  return { p50: pct(gaps, 50), p95: pct(gaps, 95), max: Math.max(...gaps), n: gaps.length };
}

async function measureFake(url, n = 300) {
  const text = implementerText(OBJECTIVE('a', 0), 2, 50, [
    'Confidence gate failed: mean confidence 0.100 is below 0.7.',
    ...agentNames(WORKLOADS.a).map((a) => `${a} reported confidence 0.1: ok`),
  ]);
  for (let i = 0; i < 50; i++) await callFake(url, 'impl-long-00', text);
  const before = await fakeCount(url);
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await callFake(url, 'impl-long-00', text, `bare-${i}`);
    xs.push(performance.now() - t);
  }
  // The floor of "overhead" as the rows measure it: a bare call's round trip minus the fake's own
  // service time of that request (socket, HTTP parsing and fetch on both sides, nothing else).
  const service = serviceTimesByKey(await fakeTimings(url, before));
  const bare = xs.map((x, i) => x - (service.get(`bare-${i}`) ?? 0));
  return {
    p50: median(xs),
    p95: pct(xs, 95),
    p99: pct(xs, 99),
    n,
    bareOverheadMs: { p50: pct(bare, 50), p95: pct(bare, 95), p99: pct(bare, 99) },
  };
}

function writeAgents(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const agents = [
    ...agentNames(WORKLOADS.a).map((n) => [n, 'implementer']),
    ...Array.from({ length: 10 }, (_, i) => [`impl-${String(i).padStart(2, '0')}`, 'implementer']),
    ['val', 'validator'],
  ];
  for (const [name, role] of agents) {
    fs.writeFileSync(
      path.join(dir, `${name}.md`),
      [
        '---',
        `name: ${name}`,
        `description: bench agent ${name}`,
        `role: ${role}`,
        '---',
        systemPrompt(name),
        '',
      ].join('\n'),
    );
  }
}

const impl = (c) => ({ text: `Done.\n{"confidence":${c},"summary":"ok"}` });
// The first rule whose match occurs in the system prompt or the last user message answers.
const RULES = [
  { match: 'AGENT=impl-long-', reply: impl(0.1) }, // workload (a): the gate never passes
  { match: 'This is iteration 3 of', reply: impl(0.9) }, // workload (b): passes on iteration 3
  { match: 'AGENT=impl-', reply: impl(0.1) },
  { match: 'AGENT=val', reply: { text: 'Review.\n{"score":0.95,"approve":true,"feedback":"ok"}' } },
];

/** The fake's log of the requests after request id `after`: id, call key, arrival, end (its clock). */
const fakeTimings = async (url, after) => (await fetch(`${url}/_timings?after=${after}`)).json();

/**
 * The fake's own service time of each call, by x-cfn-call-key: from its clock, the arrival of the
 * request to the end of its answer (summed over a call's retries).
 */
function serviceTimesByKey(timings) {
  const byKey = new Map();
  for (const r of timings)
    if (r.callKey && r.respondedAt !== undefined)
      byKey.set(r.callKey, (byKey.get(r.callKey) ?? 0) + (r.respondedAt - r.receivedAt));
  return byKey;
}

/**
 * Overhead: a task's latency minus the fake's service time for that task's own request (matched by
 * its call key); `overheadVsP50Ms` subtracts the fake's p50 round trip from the bench instead (the
 * figure before 2026-12-01 evening), which leaves the fake's and the socket's variance in the tail.
 */
function summarize(r, fakeP50, serviceByKey) {
  const own = r.durations.map((d, i) => {
    const sv = serviceByKey.get(r.callKeys?.[i]);
    return sv === undefined ? undefined : d - sv;
  });
  const matched = own.filter((x) => x !== undefined);
  const over = matched.length === own.length ? matched : r.durations.map((d) => d - fakeP50);
  const vsP50 = r.durations.map((d) => d - fakeP50);
  return {
    overheadSamples: over,
    overheadBasis: matched.length === own.length ? 'per-request' : 'fake p50',
    overheadVsP50Ms: { p50: pct(vsP50, 50), p95: pct(vsP50, 95), p99: pct(vsP50, 99) },
    tasks: r.tasks,
    fakeCalls: r.fakeCalls ?? r.tasks,
    retries: r.retries ?? 0,
    wallS: r.wallMs / 1000,
    tasksPerS: r.tasks / (r.wallMs / 1000),
    overheadMs: { p50: pct(over, 50), p95: pct(over, 95), p99: pct(over, 99) },
    taskMs: { p50: pct(r.durations, 50), p95: pct(r.durations, 95), p99: pct(r.durations, 99) },
    llmCallMs: r.llmMs ? { p50: pct(r.llmMs, 50), p95: pct(r.llmMs, 95) } : null,
    engineInTaskMs: r.engineMs
      ? { p50: pct(r.engineMs, 50), p95: pct(r.engineMs, 95), p99: pct(r.engineMs, 99) }
      : null,
    queueWaitMs: r.queueWaits ? { p50: pct(r.queueWaits, 50), p95: pct(r.queueWaits, 95) } : null,
    roundGapMs: r.gaps.length ? { p50: pct(r.gaps, 50), p95: pct(r.gaps, 95) } : null,
    cpuMsPerTask: r.cpu.proc / r.tasks,
    kernelShareOfCpu: r.cpu.procSys / r.cpu.proc,
    pgCpuMsPerTask: r.cpu.pg / r.tasks,
    fakeCpuMsPerTask: r.cpu.fake / r.tasks,
    redisCpuMsPerTask: (r.cpu.redis ?? 0) / r.tasks,
    otherLoadCores: r.cpu.foreignCores,
    statementsPerTask: r.queries ? r.queries.statements / r.tasks : null,
    roundTripsPerTask: r.queries ? r.queries.roundTrips / r.tasks : null,
    pgXactsPerTask: r.pgXacts === undefined ? null : r.pgXacts / r.tasks,
    pgRowsPerTask: r.pgRows === undefined ? null : r.pgRows / r.tasks,
    idleRssMb: r.idleRssMb,
    peakRssMb: r.peakRssMb,
    eldP99Ms: r.eldP99Ms,
    eldMaxMs: r.eldMaxMs,
    statuses: r.statuses,
  };
}

/** The rows grouped by `key`, in first-seen order. */
function groupBy(rows, key) {
  const groups = new Map();
  for (const r of rows) {
    const k = key(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  return [...groups.values()];
}

/** Each (workload, system)'s row of median tasks/s over its rounds (the lower middle one). */
function medianRows(rows) {
  return groupBy(rows, (r) => `${r.workload}\u0000${r.system}`).map((g) => {
    const sorted = [...g].sort((x, y) => x.tasksPerS - y.tasksPerS);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  });
}

async function main() {
  const adminPg = arg('--pg');
  const only = arg('--only');
  const maxAgents = Number(arg('--max-agents') ?? 64);
  const cpuProf = process.argv.includes('--cpu-prof');
  const noWaitIdle = process.argv.includes('--no-wait-idle');
  const countQueries = process.argv.includes('--count-queries');
  const redisUrl = arg('--redis');
  // --rounds N: every system of a workload N times, round-robin, so that a machine whose speed
  // drifts (a shared VM) slows both sides of a comparison alike; ratios are taken within a round.
  const rounds = Math.max(1, Number(arg('--rounds') ?? 1));
  // Whole unmeasured passes of each workload before the measured one (0: only the small warm-up swarm).
  const warmupPasses = Math.max(0, Number(arg('--warmup') ?? 1));
  // --service-env K=V (repeatable): extra service configuration for experiments, e.g. DATABASE_POOL_MAX=40.
  const serviceEnv = Object.fromEntries(
    process.argv
      .flatMap((a, i) => (a === '--service-env' ? [process.argv[i + 1]] : []))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  if (!fs.existsSync(BIN))
    throw new Error('dist/main/bin.js is missing: run `npm run build` first');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-bench-orch-'));
  const agentsDir = path.join(tmp, 'agents');
  writeAgents(agentsDir);
  const rulesFile = path.join(tmp, 'rules.json');
  fs.writeFileSync(rulesFile, JSON.stringify(RULES));
  const fake = await startFake(rulesFile);
  const startedAt = new Date();
  const machine = {
    node: process.version,
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
  console.log(
    `node ${machine.node}, ${machine.cores} cores (${machine.cpu}), ${machine.memGiB} GiB, load ${machine.loadavgAtStart.join(' ')}${quick ? ', --quick' : ''}`,
  );
  const scratchDbs = [];
  const rows = [];
  try {
    const fakeTime = await measureFake(fake.url);
    console.log(
      `fake LLM service time (300 sequential calls from the bench, plain fetch, keep-alive): p50 ${fakeTime.p50.toFixed(2)} ms, p95 ${fakeTime.p95.toFixed(2)} ms; minus the fake's own time for each request (the floor of the overhead column): p50 ${fakeTime.bareOverheadMs.p50.toFixed(2)} / p95 ${fakeTime.bareOverheadMs.p95.toFixed(2)} / p99 ${fakeTime.bareOverheadMs.p99.toFixed(2)} ms`,
    );
    const fakeCpu0 = procCpuMs(fake.child.pid);
    const systems = [];
    if (redisUrl && adminPg && only !== 'langgraph')
      for (const workers of [1, 2])
        systems.push({
          system: `cfn distributed, ${workers} worker${workers > 1 ? 's' : ''}`,
          kind: 'cfn',
          backend: 'distributed',
          workers,
        });
    if (only !== 'langgraph' && only !== 'distributed') {
      systems.push({ system: 'cfn (embedded PGlite)', kind: 'cfn', backend: 'pglite' });
      if (adminPg)
        systems.push({
          system: countQueries ? 'cfn (PostgreSQL, counting proxy)' : 'cfn (PostgreSQL)',
          kind: 'cfn',
          backend: 'postgres',
        });
    }
    if (only !== 'cfn' && only !== 'distributed') {
      systems.push({ system: 'LangGraph, no checkpointer', kind: 'lg', saver: 'none' });
      if (adminPg) {
        systems.push({
          system: 'LangGraph + PostgresSaver (async)',
          kind: 'lg',
          saver: 'postgres',
          durability: 'async',
        });
        systems.push({
          system: 'LangGraph + PostgresSaver (sync)',
          kind: 'lg',
          saver: 'postgres',
          durability: 'sync',
        });
      } else {
        systems.push({
          system: 'LangGraph + MemorySaver (not durable)',
          kind: 'lg',
          saver: 'memory',
        });
      }
    }
    const onlyWorkload = arg('--workload');
    for (const wl of [WORKLOADS.a, WORKLOADS.b, WORKLOADS.c].filter(
      (w) => !onlyWorkload || w.name === onlyWorkload,
    )) {
      for (let round = 1; round <= rounds; round++)
        for (const s of systems) {
          process.stdout.write(
            `(${wl.name}) ${describe(wl)} — ${s.system}${rounds > 1 ? `, round ${round}` : ''} … `,
          );
          // A checkpoint now, so that one forced by the previous runs' WAL does not land in this
          // run's window (whichever system it is).
          if (adminPg) await adminQuery(adminPg, 'checkpoint');
          const idleBefore = noWaitIdle ? undefined : await waitIdle();
          const fakeBefore = await fakeCount(fake.url);
          let r;
          if (s.kind === 'cfn') {
            if (s.backend !== 'pglite')
              scratchDbs.push(`${dbNameOf(adminPg)}_svc_${s.backend}_${wl.name}`);
            r = await runService({
              backend: s.backend,
              wl,
              agentsDir,
              fakeUrl: fake.url,
              fakePid: fake.child.pid,
              adminPg,
              maxAgents,
              serviceEnv,
              countQueries,
              cpuProf: cpuProf && wl.name === 'b',
              workers: s.workers ?? 0,
              redisUrl,
              warmupPasses,
            });
          } else {
            let pgUrl;
            if (s.saver === 'postgres') {
              const name = `${dbNameOf(adminPg)}_lg_${s.durability}_${wl.name}`;
              scratchDbs.push(name);
              pgUrl = await freshDb(adminPg, name);
            }
            r = await runLangGraph({
              fakeUrl: fake.url,
              fakePid: fake.child.pid,
              wl,
              saver: s.saver,
              durability: s.durability,
              pgUrl,
              warmupPasses,
            });
          }
          const timings = await fakeTimings(fake.url, fakeBefore);
          const sum = summarize(r, fakeTime.p50, serviceTimesByKey(timings));
          if (wl.agents === 1) sum.stepGapMs = stepGaps(timings, expectedTasks(wl));
          if (sum.tasks !== expectedTasks(wl)) {
            console.warn(`\n  warning: ${sum.tasks} tasks, expected ${expectedTasks(wl)}`);
          }
          console.log(`${sum.tasks} tasks in ${sum.wallS.toFixed(2)} s`);
          rows.push({
            workload: wl.name,
            describe: describe(wl),
            system: s.system,
            round,
            idleBefore,
            ...sum,
          });
        }
    }
    const floors = [];
    if (redisUrl && only !== 'langgraph' && only !== 'cfn') {
      // The floor proper (no-op jobs), then the same jobs each making one call to the fake LLM:
      // the most any BullMQ-based agent runner could do here, before persisting anything.
      for (const fakeUrl of [undefined, fake.url])
        for (const workers of [1, 2]) {
          const what = fakeUrl ? 'one fake-LLM call per job' : 'no-op jobs';
          process.stdout.write(`raw BullMQ floor (${what}), ${workers} worker process(es) … `);
          if (!noWaitIdle) await waitIdle();
          const f = await bullmqFloor(redisUrl, {
            jobs: (quick ? 2000 : 20000) / (fakeUrl ? 4 : 1),
            workers,
            concurrency: Math.ceil(maxAgents / workers),
            fakeUrl,
          });
          console.log(`${f.jobsPerS.toFixed(0)} jobs/s`);
          floors.push(f);
        }
    }
    const fakeCpuMs = procCpuMs(fake.child.pid) - fakeCpu0;
    const fakeRequests = await fakeCount(fake.url);

    // ---- table
    const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
    const header = [
      'wl',
      'system',
      'tasks',
      'wall s',
      'tasks/s',
      'overhead p50/p95/p99 ms',
      'round gap p50 ms',
      'step gap p50/p95/max ms',
      'CPU ms/task (proc + pg)',
      'idle→peak RSS MiB',
      'ELD p99 / max ms',
      'other load',
    ];
    // With several rounds the table gives each system's median round (by tasks/s); every round is
    // in the JSON.
    const shown = rounds === 1 ? rows : medianRows(rows);
    const label = (r) => (rounds === 1 ? r.system : `${r.system}, round ${r.round}`);
    const table = shown.map((r) => [
      r.workload,
      rounds === 1 ? r.system : `${r.system} (median of ${rounds})`,
      String(r.tasks),
      f(r.wallS, 2),
      f(r.tasksPerS, 0),
      `${f(r.overheadMs.p50, 2)} / ${f(r.overheadMs.p95, 2)} / ${f(r.overheadMs.p99, 2)}`,
      r.roundGapMs ? f(r.roundGapMs.p50, 1) : '',
      r.stepGapMs
        ? `${f(r.stepGapMs.p50, 2)} / ${f(r.stepGapMs.p95, 2)} / ${f(r.stepGapMs.max, 2)}`
        : '',
      `${f(r.cpuMsPerTask, 2)} + ${f(r.pgCpuMsPerTask, 2)}`,
      `${f(r.idleRssMb, 0)} → ${f(r.peakRssMb, 0)}`,
      `${f(r.eldP99Ms, 1)} / ${f(r.eldMaxMs, 1)}`,
      `${f(r.otherLoadCores, 2)} cores`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
    const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
    console.log();
    console.log(line(header));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    for (const t of table) console.log(line(t));
    console.log();
    for (const wl of ['a', 'b', 'c']) {
      const cfn = rows.filter((r) => r.workload === wl && r.system.startsWith('cfn'));
      const lg = rows.filter((r) => r.workload === wl && r.system.startsWith('LangGraph'));
      const names = (xs) => [...new Set(xs.map((r) => r.system))];
      for (const c of names(cfn))
        for (const l of names(lg)) {
          const per = [];
          for (let round = 1; round <= rounds; round++) {
            const a = cfn.find((r) => r.system === c && r.round === round);
            const b = lg.find((r) => r.system === l && r.round === round);
            if (a && b) per.push(a.tasksPerS / b.tasksPerS);
          }
          if (!per.length) continue;
          const sorted = [...per].sort((x, y) => x - y);
          const median = sorted[Math.floor((sorted.length - 1) / 2)];
          console.log(
            `(${wl}) ${c} / ${l}: ${median.toFixed(2)}× tasks/s${
              per.length > 1
                ? ` (median of ${per.length} rounds; each: ${per.map((x) => x.toFixed(2)).join(', ')})`
                : ''
            }`,
          );
        }
    }
    // A tail percentile of one round of (c) is its third-worst task of 50: pooled over the rounds
    // it rests on more samples.
    const pooled = [];
    if (rounds > 1)
      for (const g of groupBy(rows, (r) => `${r.workload}\u0000${r.system}`)) {
        const xs = g.flatMap((r) => r.overheadSamples);
        const o = { p50: pct(xs, 50), p95: pct(xs, 95), p99: pct(xs, 99), n: xs.length };
        pooled.push({ workload: g[0].workload, system: g[0].system, overheadMs: o });
        console.log(
          `(${g[0].workload}) ${g[0].system}: overhead over all ${rounds} rounds (${o.n} tasks) p50 ${f(o.p50, 2)} / p95 ${f(o.p95, 2)} / p99 ${f(o.p99, 2)} ms`,
        );
      }
    for (const fl of floors) {
      console.log(
        `raw BullMQ floor, ${fl.workers} worker(s) × concurrency ${fl.concurrency}: ${fl.jobsPerS.toFixed(0)} ${fl.llmCall ? 'jobs/s making one fake-LLM call each' : 'no-op jobs/s'} (${f(fl.workerCpuMsPerJob, 3)} ms worker CPU + ${f(fl.redisCpuMsPerJob, 3)} ms Redis CPU per job)`,
      );
      for (const r of rows.filter((x) =>
        x.system.startsWith(`cfn distributed, ${fl.workers} worker`),
      ))
        console.log(
          `(${r.workload}) ${label(r)}: ${((100 * r.tasksPerS) / fl.jobsPerS).toFixed(1)}% of the floor's jobs/s`,
        );
    }
    const dist = (wl, n) =>
      rows.find((r) => r.workload === wl && r.system.startsWith(`cfn distributed, ${n} worker`));
    for (const wl of ['a', 'b', 'c'])
      if (dist(wl, 1) && dist(wl, 2))
        console.log(
          `(${wl}) scaling 1 → 2 workers: ${(dist(wl, 2).tasksPerS / dist(wl, 1).tasksPerS).toFixed(2)}× tasks/s`,
        );
    for (const r of rows)
      console.log(
        `(${r.workload}) ${label(r)}: ${f(r.cpuMsPerTask, 2)} ms CPU per task in the orchestrator, ${f(100 * r.kernelShareOfCpu, 0)}% of it in the kernel; PostgreSQL ${f(r.pgCpuMsPerTask, 2)} ms, fake LLM ${f(r.fakeCpuMsPerTask, 2)} ms${r.redisCpuMsPerTask ? `, Redis ${f(r.redisCpuMsPerTask, 2)} ms` : ''}`,
      );
    for (const r of rows)
      if (r.statementsPerTask !== null)
        console.log(
          `(${r.workload}) ${label(r)}: ${r.statementsPerTask.toFixed(2)} SQL statements and ${r.roundTripsPerTask.toFixed(2)} round trips to PostgreSQL per task`,
        );
    for (const r of rows)
      if (r.pgXactsPerTask !== null)
        console.log(
          `(${r.workload}) ${label(r)}: ${r.pgXactsPerTask.toFixed(2)} PostgreSQL transactions and ${r.pgRowsPerTask.toFixed(1)} rows written per task`,
        );
    for (const r of rows)
      if (r.queueWaitMs)
        console.log(
          `(${r.workload}) ${label(r)}: scheduled→started p50/p95 ${f(r.queueWaitMs.p50)}/${f(r.queueWaitMs.p95)} ms; started→succeeded p50/p95 ${f(r.taskMs.p50)}/${f(r.taskMs.p95)} ms, of which the LLM call (SDK, journaled) p50/p95 ${f(r.llmCallMs.p50)}/${f(r.llmCallMs.p95)} ms and the rest (DB, swarm lock) p50/p95/p99 ${f(r.engineInTaskMs.p50)}/${f(r.engineInTaskMs.p95)}/${f(r.engineInTaskMs.p99)} ms`,
        );
    console.log(
      `fake LLM: ${fakeRequests} requests in all, ${(
        fakeCpuMs /
        Math.max(
          1,
          rows.reduce((a, r) => a + r.tasks, 0),
        )
      ).toFixed(2)} ms CPU per measured request`,
    );

    const out = {
      date: startedAt.toISOString(),
      quick,
      rounds,
      warmupPasses,
      machine: { ...machine, loadavgAtEnd: os.loadavg().map((x) => Number(x.toFixed(2))) },
      git: await gitInfo(),
      settings: {
        maxConcurrentAgents: maxAgents,
        postgres: Boolean(adminPg),
        redis: Boolean(redisUrl),
        serviceEnv,
      },
      bullmqFloors: floors,
      fakeServiceTimeMs: fakeTime,
      fakeCpuMs,
      workloads: Object.fromEntries(
        Object.values(WORKLOADS).map((w) => [
          w.name,
          { ...w, describe: describe(w), expectedTasks: expectedTasks(w) },
        ]),
      ),
      rows: rows.map(({ overheadSamples: _samples, ...r }) => r),
      pooledOverhead: pooled,
    };
    const dir = path.join(HERE, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(
      dir,
      `orchestration-${startedAt.toISOString().slice(0, 19).replace(/[:T]/g, '-')}${quick ? '-quick' : ''}.json`,
    );
    fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${path.relative(ROOT, file)}`);
  } finally {
    fake.child.kill('SIGTERM');
    for (const name of scratchDbs)
      await adminQuery(adminPg, `drop database if exists "${name}" with (force)`).catch((e) =>
        console.warn(`could not drop ${name}: ${e.message}`),
      );
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (!process.argv[2]?.endsWith('-child')) await main();
