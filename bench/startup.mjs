// Measures what an operator notices about the bare service: start-up time (cold: a new embedded
// data directory; warm: an existing one; and on PostgreSQL), resident memory over the first
// seconds and at rest, and /health latency.
// Usage: npm run build && node bench/startup.mjs [--pg postgres://…/db] [--idle-s 60]
//   RSS is the whole process tree (the service and any child it runs), sampled every 100 ms.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = new URL('../dist/main/bin.js', import.meta.url).pathname;
const arg = (name, fallback) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback;
const pgUrl = arg('--pg');
const idleS = Number(arg('--idle-s', '60'));

function start(env) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const sampler = sampleRss(child.pid, t0);
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      for (const line of buf.split('\n')) {
        if (!line.startsWith('{')) continue;
        const l = JSON.parse(line);
        if (l.msg === 'listening')
          return resolve({ child, url: l.url, ms: performance.now() - t0, sampler });
      }
    });
    child.on('exit', (c) => {
      sampler.stop();
      reject(new Error(`exited ${c}`));
    });
  });
}

async function stop({ child, sampler }) {
  sampler.stop();
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
}

const statusKb = (pid, field) => {
  try {
    const m = fs
      .readFileSync(`/proc/${pid}/status`, 'utf8')
      .match(new RegExp(`${field}:\\s+(\\d+)`));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // exited between listing and reading
  }
};

/** The pid and every descendant, from /proc/<pid>/task/<tid>/children. */
function tree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tids = [];
    try {
      tids = fs.readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const kids = fs.readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

const treeRssMb = (pid) => tree(pid).reduce((s, p) => s + statusKb(p, 'VmRSS'), 0) / 1024;

/** Samples the tree's RSS every 100 ms from spawn: the peak, and the value at given seconds. */
function sampleRss(pid, t0) {
  const samples = [];
  const timer = setInterval(() => {
    samples.push({ s: (performance.now() - t0) / 1000, mb: treeRssMb(pid) });
  }, 100);
  return {
    stop: () => clearInterval(timer),
    peak: (untilS = Infinity) =>
      Math.max(0, ...samples.filter((x) => x.s <= untilS).map((x) => x.mb)),
    at: (s) => samples.find((x) => x.s >= s)?.mb ?? NaN,
    until: (s) =>
      new Promise((r) => setTimeout(r, Math.max(0, s * 1000 - (performance.now() - t0)))),
  };
}

const pct = (xs, p) =>
  xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function healthLatency(url, n = 500) {
  for (let i = 0; i < 50; i++) await (await fetch(`${url}/health`)).text(); // warm-up
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(`${url}/health`);
    await res.text();
    if (res.status !== 200) throw new Error(`health ${res.status}`);
    xs.push(performance.now() - t);
  }
  return { p50: pct(xs, 50), p95: pct(xs, 95), p99: pct(xs, 99) };
}

const mib = (x) => `${x.toFixed(0)} MiB`;
const rows = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-bench-'));
try {
  const cold = await start({ CFN_DATA_DIR: dir });
  rows.push(['embedded (PGlite) cold start, new data dir', `${cold.ms.toFixed(0)} ms`]);
  await cold.sampler.until(10.2);
  rows.push(['embedded first start: RSS 10 s after spawn', mib(cold.sampler.at(10))]);
  rows.push(['embedded first start: peak RSS in those 10 s', mib(cold.sampler.peak(10))]);
  await stop(cold);

  const warmRuns = [];
  let warm;
  for (let i = 0; i < 3; i++) {
    warm = await start({ CFN_DATA_DIR: dir });
    warmRuns.push(warm.ms);
    if (i < 2) await stop(warm);
  }
  rows.push(['embedded (PGlite) warm start (median of 3)', `${pct(warmRuns, 50).toFixed(0)} ms`]);
  await warm.sampler.until(10.2);
  rows.push(['embedded idle RSS after a restart, 10 s', mib(warm.sampler.at(10))]);
  if (idleS > 10) {
    await warm.sampler.until(idleS + 0.2);
    rows.push([`embedded idle RSS after a restart, ${idleS} s`, mib(warm.sampler.at(idleS))]);
  }
  const h = await healthLatency(warm.url);
  rows.push([
    'embedded /health latency p50 / p95 / p99 (500 sequential)',
    `${h.p50.toFixed(2)} / ${h.p95.toFixed(2)} / ${h.p99.toFixed(2)} ms`,
  ]);
  await stop(warm);

  if (pgUrl) {
    const runs = [];
    let pg;
    for (let i = 0; i < 3; i++) {
      pg = await start({ CFN_DATA_DIR: dir, DATABASE_URL: pgUrl });
      runs.push(pg.ms);
      if (i < 2) await stop(pg);
    }
    rows.push(['PostgreSQL start (median of 3)', `${pct(runs, 50).toFixed(0)} ms`]);
    await pg.sampler.until(10.2);
    rows.push(['PostgreSQL idle RSS, 10 s', mib(pg.sampler.at(10))]);
    const hp = await healthLatency(pg.url);
    rows.push([
      'PostgreSQL /health latency p50 / p95 / p99',
      `${hp.p50.toFixed(2)} / ${hp.p95.toFixed(2)} / ${hp.p99.toFixed(2)} ms`,
    ]);
    await stop(pg);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const w = Math.max(...rows.map((r) => r[0].length));
console.log(
  `node ${process.version}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
