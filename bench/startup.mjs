// Measures what an operator notices about the bare service: start-up time (cold: a new embedded
// data directory; warm: an existing one; and on PostgreSQL), idle RSS, and /health latency.
// Usage: npm run build && node bench/startup.mjs [--pg postgres://…/db]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = new URL('../dist/main/bin.js', import.meta.url).pathname;
const pgUrl = process.argv.includes('--pg')
  ? process.argv[process.argv.indexOf('--pg') + 1]
  : undefined;

function start(env) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      for (const line of buf.split('\n')) {
        if (!line.startsWith('{')) continue;
        const l = JSON.parse(line);
        if (l.msg === 'listening')
          return resolve({ child, url: l.url, ms: performance.now() - t0 });
      }
    });
    child.on('exit', (c) => reject(new Error(`exited ${c}`)));
  });
}

async function stop(child) {
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
}

const rssMb = (pid) =>
  Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;
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

const rows = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-bench-'));
try {
  const cold = await start({ CFN_DATA_DIR: dir });
  await stop(cold.child);
  rows.push(['embedded (PGlite) cold start, new data dir', `${cold.ms.toFixed(0)} ms`]);
  const warmRuns = [];
  let warm;
  for (let i = 0; i < 3; i++) {
    warm = await start({ CFN_DATA_DIR: dir });
    warmRuns.push(warm.ms);
    if (i < 2) await stop(warm.child);
  }
  rows.push(['embedded (PGlite) warm start (median of 3)', `${pct(warmRuns, 50).toFixed(0)} ms`]);
  await new Promise((r) => setTimeout(r, 5000));
  rows.push(['embedded idle RSS (5 s after start)', `${rssMb(warm.child.pid).toFixed(0)} MiB`]);
  const h = await healthLatency(warm.url);
  rows.push([
    'embedded /health latency p50 / p95 / p99 (500 sequential)',
    `${h.p50.toFixed(2)} / ${h.p95.toFixed(2)} / ${h.p99.toFixed(2)} ms`,
  ]);
  await stop(warm.child);

  if (pgUrl) {
    const runs = [];
    let pg;
    for (let i = 0; i < 3; i++) {
      pg = await start({ CFN_DATA_DIR: dir, DATABASE_URL: pgUrl });
      runs.push(pg.ms);
      if (i < 2) await stop(pg.child);
    }
    rows.push(['PostgreSQL start (median of 3)', `${pct(runs, 50).toFixed(0)} ms`]);
    await new Promise((r) => setTimeout(r, 5000));
    rows.push(['PostgreSQL idle RSS', `${rssMb(pg.child.pid).toFixed(0)} MiB`]);
    const hp = await healthLatency(pg.url);
    rows.push([
      'PostgreSQL /health latency p50 / p95 / p99',
      `${hp.p50.toFixed(2)} / ${hp.p95.toFixed(2)} / ${hp.p99.toFixed(2)} ms`,
    ]);
    await stop(pg.child);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const w = Math.max(...rows.map((r) => r[0].length));
console.log(
  `node ${process.version}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
);
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
