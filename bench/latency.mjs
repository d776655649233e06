// Realistic LLM latency: N concurrent swarms × (10 implementers, then a validator, then a product
// owner) against a fake LLM (its own process) that takes `--latency-ms` (default 2,000) to answer
// each call, so the ideal wall time is three answers (6 s) whatever N is. The real service (a child
// process, PostgreSQL profile) side by side with LangGraph JS (the same graph shape in a child
// process: no checkpointer, PostgresSaver with durability "async" and "sync"), and the floor: the
// same calls through the SDK and the service's HTTP client with no orchestration at all. Reports
// wall time, efficiency (ideal ÷ actual), calls in flight (peak, from the fake's own log), RSS per
// in-flight agent, event-loop lag and, for the service, API latency sampled during the run and how
// fast the N submissions were accepted. `--stream`: the fake streams each answer (first byte after
// half the latency, the rest spread over the other half) to whoever asks for a stream: LangGraph
// and the floor do; the service's agents ask for whole answers until streamed agent output exists.
//
// Usage: npm run build && node bench/latency.mjs --pg postgres://…/db [--n 50,100,200,500]
//          [--rounds 2] [--latency-ms 2000] [--only cfn|langgraph] [--stream] [--no-wait-idle]
//          [--cpu-prof]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  MAX_TOKENS,
  MODEL,
  ROOT,
  api,
  dbNameOf,
  freshDb,
  gitInfo,
  lastJson,
  pct,
  procStatus,
  sleep,
  startFake,
  startService,
  stopService,
  systemPrompt,
  track,
  waitIdle,
} from './lib/kit.mjs';

const SELF = fileURLToPath(import.meta.url);
const IMPLEMENTERS = Array.from({ length: 10 }, (_, i) => `impl-${String(i).padStart(2, '0')}`);
/** One answer that every role's output contract accepts (the last JSON object of the text). */
const ANSWER =
  'Done.\n{"confidence":0.9,"summary":"implemented","files":[],"score":0.95,"approve":true,' +
  '"feedback":"ok","decision":"PROCEED","rationale":"meets the objective"}';
const WARM = 'zqwarm';
const arg = (name) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;

// ---- the fake's script ---------------------------------------------------------------------------

/** Every call answers after `latencyMs`; streamed, half of it before the first byte. */
function rules(latencyMs, stream) {
  // The Anthropic stream of ANSWER is 7 frames: 6 gaps share the second half of the latency.
  const timing = stream
    ? { delayMs: latencyMs / 2, chunkDelayMs: latencyMs / 2 / 6 }
    : { delayMs: latencyMs };
  return [
    { match: WARM, reply: { text: ANSWER } },
    { match: 'AGENT=', reply: { text: ANSWER, ...timing } },
  ];
}

function writeAgents(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const agents = [
    ...IMPLEMENTERS.map((n) => [n, 'implementer']),
    ['val', 'validator'],
    ['po', 'product-owner'],
  ];
  for (const [name, role] of agents)
    fs.writeFileSync(
      path.join(dir, `${name}.md`),
      ['---', `name: ${name}`, `description: bench agent ${name}`, `role: ${role}`, '---'].join(
        '\n',
      ) + `\n${systemPrompt(name)}\n`,
    );
}

/** Peak and mean calls in flight at the fake over the measured window, from its own log. */
function inFlight(timings, from) {
  const edges = [];
  for (const t of timings) {
    if (t.respondedAt === undefined || t.receivedAt < from) continue;
    edges.push([t.receivedAt, 1], [t.respondedAt, -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (now += d));
  return { peak, calls: edges.length / 2 };
}
const fakeTimings = async (url) => (await fetch(`${url}/_timings?after=0`)).json();

/** RSS of `pid` every 100 ms until stopped: the peak (MiB). */
function sampleRss(pid) {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procStatus(pid, 'VmRSS'));
    } catch {
      /* exited */
    }
  }, 100);
  return () => (clearInterval(timer), peak);
}

// ---- the service ----------------------------------------------------------------------------------

async function runCfn({ n, adminPg, agentsDir, fake, tmp, cpuProf }) {
  const dbUrl = await freshDb(adminPg, `${dbNameOf(adminPg)}_lat`);
  const profDir = path.join(ROOT, 'bench/results/prof');
  if (cpuProf) fs.mkdirSync(profDir, { recursive: true });
  const { child, url } = await startService(
    {
      DATABASE_URL: dbUrl,
      CFN_DATA_DIR: path.join(tmp, `data-${n}`),
      CFN_AGENTS_DIR: agentsDir,
      ANTHROPIC_BASE_URL: fake.url,
      CFN_MAX_CONCURRENT_AGENTS: String(n * IMPLEMENTERS.length),
      CFN_WORKER_MAX_SWARMS: String(n),
      CFN_AGENT_MAX_TOKENS: String(MAX_TOKENS),
    },
    cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
  );
  const body = (objective) => ({
    objective,
    mode: 'mvp',
    agents: IMPLEMENTERS,
    validators: ['val'],
    productOwner: 'po',
  });
  // Warm-up (JIT, pools): one swarm the fake answers at once.
  const warm = await api(url, '/api/swarms', {
    method: 'POST',
    body: JSON.stringify(body(`${WARM} warm-up`)),
  });
  const warmId = (await warm.json()).id;
  await waitDone(url, [warmId], 60_000);
  await sleep(1000);
  const idleRss = procStatus(child.pid, 'VmRSS');
  const stopRss = sampleRss(child.pid);

  // The API while the swarms run: a list and one swarm, every 100 ms; the event loop every second.
  const apiMs = [];
  const lag = [];
  let sampling = true;
  const ids = [];
  const probe = (async () => {
    while (sampling) {
      const t = performance.now();
      const res = await api(url, '/api/swarms?limit=10');
      await res.arrayBuffer();
      apiMs.push(performance.now() - t);
      if (ids.length) {
        const t2 = performance.now();
        const one = await api(url, `/api/swarms/${ids[(apiMs.length * 7919) % ids.length]}`);
        await one.arrayBuffer();
        apiMs.push(performance.now() - t2);
      }
      await sleep(100);
    }
  })();
  const lagProbe = (async () => {
    while (sampling) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const p99 = Number(text.match(/^nodejs_eventloop_lag_p99_seconds ([0-9.e+-]+)/m)?.[1]);
      if (Number.isFinite(p99)) lag.push(p99 * 1000);
      await sleep(1000);
    }
  })();

  const t0 = Date.now();
  const accepted = [];
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await api(url, '/api/swarms', {
        method: 'POST',
        body: JSON.stringify(body(`Latency swarm ${i}: implement the requested feature.`)),
      });
      const json = await res.json();
      if (res.status !== 202) throw new Error(`submit: HTTP ${res.status} ${JSON.stringify(json)}`);
      accepted.push(Date.now() - t0);
      ids.push(json.id);
    }),
  );
  const swarms = await waitDone(url, ids, 600_000);
  const ended = Math.max(...swarms.map((s) => Date.parse(s.completedAt ?? s.updatedAt)));
  sampling = false;
  await Promise.all([probe, lagProbe]);
  const peakRss = stopRss();
  const statuses = {};
  for (const s of swarms) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  const timings = await fakeTimings(fake.url);
  await stopService(child);
  return {
    wallMs: ended - t0,
    statuses,
    flight: inFlight(timings, t0),
    idleRssMb: idleRss,
    peakRssMb: peakRss,
    eldP99Ms: lag.length ? Math.max(...lag) : NaN,
    api: { p50: pct(apiMs, 50), p95: pct(apiMs, 95), samples: apiMs.length },
    submit: { lastMs: Math.max(...accepted), p50: pct(accepted, 50) },
  };
}

/** Polls one list page per 200 ms until every swarm of `ids` has ended; returns them. */
async function waitDone(url, ids, timeoutMs) {
  const want = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await (await api(url, '/api/swarms?limit=1&status=running')).json();
    const queued = await (await api(url, '/api/swarms?limit=1&status=queued')).json();
    if (!open.items.length && !queued.items.length) {
      const all = [];
      let cursor;
      do {
        const page = await (
          await api(url, `/api/swarms?limit=200${cursor ? `&cursor=${cursor}` : ''}`)
        ).json();
        all.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      const mine = all.filter((s) => want.has(s.id));
      if (mine.length === want.size) return mine;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for the swarms to end');
    await sleep(200);
  }
}

// ---- LangGraph ------------------------------------------------------------------------------------

async function langGraphChild(cfg) {
  const { EventEmitter } = await import('node:events');
  EventEmitter.defaultMaxListeners = 0;
  const { Annotation, StateGraph, Send, START, END } = await import('@langchain/langgraph');
  const last = (_a, b) => b;
  const State = Annotation.Root({
    objective: Annotation({ reducer: last, default: () => '' }),
    results: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }),
    score: Annotation({ reducer: last, default: () => 0 }),
    decision: Annotation({ reducer: last, default: () => '' }),
  });
  const call = (agent, text) => callLlm(cfg.fakeUrl, agent, text, cfg.stream);
  const graph = new StateGraph(State)
    .addNode('implementer', async (input) => {
      const out = await call(input.agent, `## Objective\n${input.objective}\n`);
      return { results: [{ agent: input.agent, confidence: Number(out.confidence) }] };
    })
    .addNode('validator', async (s) => {
      const out = await call(
        'val',
        `## Objective\n${s.objective}\n## Results\n${s.results.length}`,
      );
      return { score: Number(out.score) };
    })
    .addNode('po', async (s) => {
      const out = await call('po', `## Objective\n${s.objective}\n## Score\n${s.score}`);
      return { decision: out.decision };
    })
    .addConditionalEdges(START, (s) =>
      IMPLEMENTERS.map((agent) => new Send('implementer', { agent, objective: s.objective })),
    )
    .addEdge('implementer', 'validator')
    .addEdge('validator', 'po')
    .addEdge('po', END);
  let checkpointer;
  if (cfg.saver === 'postgres') {
    const { PostgresSaver } = await import('@langchain/langgraph-checkpoint-postgres');
    checkpointer = PostgresSaver.fromConnString(cfg.pgUrl);
    await checkpointer.setup();
  }
  const app = graph.compile(checkpointer ? { checkpointer } : {});
  const invoke = (objective, thread) =>
    app.invoke(
      { objective },
      {
        ...(cfg.durability ? { durability: cfg.durability } : {}),
        configurable: { thread_id: thread },
      },
    );
  const out = await measure(cfg.n, (i) =>
    i < 0
      ? invoke(`${WARM} warm-up`, `warm-${process.pid}`)
      : invoke(`Latency swarm ${i}: implement the requested feature.`, `s-${i}`),
  );
  if (checkpointer) await checkpointer.end();
  return out;
}

/**
 * After one warm-up swarm and a second of rest: `n` swarms at once, with the process's idle and
 * peak RSS and its event-loop lag over them.
 */
async function measure(n, runSwarm) {
  await runSwarm(-1);
  await sleep(1000);
  const idleRssMb = procStatus(process.pid, 'VmRSS');
  const stopRss = sampleRss(process.pid);
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const t0 = Date.now();
  const finals = await Promise.all(Array.from({ length: n }, (_, i) => runSwarm(i)));
  const wallMs = Date.now() - t0;
  eld.disable();
  return {
    t0,
    wallMs,
    statuses: { [finals.every((f) => f.decision === 'PROCEED') ? 'completed' : 'other']: n },
    idleRssMb,
    peakRssMb: stopRss(),
    eldP99Ms: eld.percentile(99) / 1e6,
  };
}

/**
 * The floor: the same calls (10 at once per swarm, then one, then one) through the official SDK
 * and the service's own HTTP client, with nothing else — what this machine allows any orchestrator.
 */
async function floorChild(cfg) {
  const { default: Anthropic } = await import('@anthropic-ai/sdk');
  const { createUndiciFetch } = await import(path.join(ROOT, 'dist/providers/provider-fetch.js'));
  const client = new Anthropic({
    apiKey: 'x',
    baseURL: cfg.fakeUrl,
    maxRetries: 0,
    fetch: createUndiciFetch({ connections: cfg.n * IMPLEMENTERS.length }),
  });
  const call = async (agent, text) => {
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: MAX_TOKENS,
      system: systemPrompt(agent),
      messages: [{ role: 'user', content: text }],
    });
    return lastJson(msg.content.map((c) => c.text ?? '').join(''));
  };
  const swarm = async (objective) => {
    await Promise.all(IMPLEMENTERS.map((a) => call(a, `## Objective\n${objective}\n`)));
    await call('val', `## Objective\n${objective}\n`);
    return call('po', `## Objective\n${objective}\n`);
  };
  return measure(cfg.n, (i) =>
    swarm(i < 0 ? `${WARM} warm-up` : `Latency swarm ${i}: implement the requested feature.`),
  );
}

/** One Anthropic Messages call through the global fetch; streamed: the SSE text deltas joined. */
async function callLlm(url, agent, text, stream) {
  const res = await fetch(`${url}/v1/messages`, {
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
      ...(stream ? { stream: true } : {}),
    }),
  });
  if (res.status !== 200) throw new Error(`fake LLM: HTTP ${res.status}`);
  if (!stream) return lastJson((await res.json()).content.map((c) => c.text ?? '').join(''));
  let answer = '';
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const event = JSON.parse(line.slice(6));
    if (event.type === 'content_block_delta') answer += event.delta.text ?? '';
  }
  return lastJson(answer);
}

function runChild(cfg) {
  const child = track(
    spawn(process.execPath, [SELF, `--${cfg.kind}-child`, JSON.stringify(cfg)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => (buf += d));
    child.on('exit', (code) => {
      const line = buf.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line));
      else reject(new Error(`${cfg.kind} child exited ${code}`));
    });
  });
}

// ---- main -----------------------------------------------------------------------------------------

const SYSTEMS = [
  { name: 'floor: bare SDK calls', kind: 'floor' },
  { name: 'cfn (PostgreSQL)', kind: 'cfn' },
  { name: 'LangGraph, no checkpointer', kind: 'langgraph' },
  {
    name: 'LangGraph + PostgresSaver (async)',
    kind: 'langgraph',
    saver: 'postgres',
    durability: 'async',
  },
  {
    name: 'LangGraph + PostgresSaver (sync)',
    kind: 'langgraph',
    saver: 'postgres',
    durability: 'sync',
  },
];

async function main() {
  const adminPg = arg('--pg');
  if (!adminPg) throw new Error('--pg postgres://…/db is required (the PostgreSQL profile)');
  const ns = (arg('--n') ?? '50,100,200,500').split(',').map(Number);
  const rounds = Math.max(1, Number(arg('--rounds') ?? 1));
  const latencyMs = Number(arg('--latency-ms') ?? 2000);
  const only = arg('--only');
  const stream = process.argv.includes('--stream');
  const noWaitIdle = process.argv.includes('--no-wait-idle');
  // --cpu-prof: the service runs with --cpu-prof (bench/results/prof/; bench/cpuprofile-top.mjs reads it).
  const cpuProf = process.argv.includes('--cpu-prof');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-bench-latency-'));
  const agentsDir = path.join(tmp, 'agents');
  writeAgents(agentsDir);
  const rulesFile = path.join(tmp, 'rules.json');
  fs.writeFileSync(rulesFile, JSON.stringify(rules(latencyMs, stream)));
  const idealMs = 3 * latencyMs;
  const git = await gitInfo();
  const rows = [];
  console.log(
    `latency bench at ${git.head}${git.srcDirty.length ? ' (src modified)' : ''}: ${os.cpus().length} cores, ` +
      `node ${process.version}; LLM ${latencyMs} ms per call${stream ? ', streamed' : ''}; ideal ${idealMs / 1000} s`,
  );
  for (let round = 1; round <= rounds; round++)
    for (const n of ns)
      for (const system of SYSTEMS.filter((s) => !only || s.kind === only)) {
        if (!noWaitIdle) await waitIdle();
        // A fake of its own per run: its log is this run's calls only.
        const fake = await startFake(rulesFile);
        let r;
        try {
          if (system.kind === 'cfn')
            r = await runCfn({ n, adminPg, agentsDir, fake, tmp, cpuProf });
          else {
            const pgUrl =
              system.saver === 'postgres'
                ? await freshDb(adminPg, `${dbNameOf(adminPg)}_lat_lg`)
                : undefined;
            r = await runChild({ ...system, n, pgUrl, fakeUrl: fake.url, stream });
            r.flight = inFlight(await fakeTimings(fake.url), r.t0);
          }
        } finally {
          fake.child.kill('SIGTERM');
        }
        const row = {
          round,
          n,
          system: system.name,
          wallS: r.wallMs / 1000,
          efficiency: idealMs / r.wallMs,
          peakInFlight: r.flight.peak,
          calls: r.flight.calls,
          kibPerAgent: ((r.peakRssMb - r.idleRssMb) * 1024) / Math.max(1, r.flight.peak),
          idleRssMb: r.idleRssMb,
          peakRssMb: r.peakRssMb,
          eldP99Ms: r.eldP99Ms,
          api: r.api,
          submit: r.submit,
          statuses: r.statuses,
        };
        rows.push(row);
        console.log(
          `round ${round} N=${n} ${system.name}: ${row.wallS.toFixed(2)} s, efficiency ${row.efficiency.toFixed(2)}, ` +
            `${row.peakInFlight} calls in flight at most (${row.calls} calls), ${row.kibPerAgent.toFixed(0)} KiB RSS per in-flight agent ` +
            `(idle ${row.idleRssMb.toFixed(0)} MiB, peak ${row.peakRssMb.toFixed(0)}), ELD p99 ${row.eldP99Ms.toFixed(1)} ms` +
            (row.api
              ? `, API p50/p95 ${row.api.p50.toFixed(1)}/${row.api.p95.toFixed(1)} ms (${row.api.samples}), ` +
                `${n} submissions accepted in ${row.submit.lastMs} ms (p50 ${row.submit.p50})`
              : '') +
            ` ${JSON.stringify(row.statuses)}`,
        );
      }
  console.log(
    '\n| N | system | wall s | efficiency | calls in flight | KiB/agent | ELD p99 ms | API p50/p95 ms | submissions |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.n} | ${r.system}${rounds > 1 ? ` (round ${r.round})` : ''} | ${r.wallS.toFixed(2)} | ${r.efficiency.toFixed(2)} | ` +
        `${r.peakInFlight} | ${r.kibPerAgent.toFixed(0)} | ${r.eldP99Ms.toFixed(1)} | ` +
        `${r.api ? `${r.api.p50.toFixed(1)}/${r.api.p95.toFixed(1)}` : '-'} | ${r.submit ? `${r.submit.lastMs} ms` : '-'} |`,
    );
  const outDir = path.join(ROOT, 'bench/results');
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(
    outDir,
    `latency-${new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-')}${stream ? '-stream' : ''}.json`,
  );
  fs.writeFileSync(file, `${JSON.stringify({ git, latencyMs, stream, rows }, null, 2)}\n`);
  console.log(`wrote ${path.relative(ROOT, file)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

if (process.argv[2]?.endsWith('-child')) {
  const cfg = JSON.parse(process.argv[3]);
  const out = await (cfg.kind === 'floor' ? floorChild(cfg) : langGraphChild(cfg));
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
} else await main();
