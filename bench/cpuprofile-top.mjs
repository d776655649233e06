// Summarises a V8 .cpuprofile (node --cpu-prof): self time by package / source file and by
// function, and inclusive time of the project's own functions.
// Usage: node bench/cpuprofile-top.mjs bench/results/prof/service-postgres-b.cpuprofile [--top 25]
import fs from 'node:fs';

const file = process.argv[2];
const top = Number(
  process.argv.includes('--top') ? process.argv[process.argv.indexOf('--top') + 1] : 25,
);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Only the measured window when orchestration.mjs left one next to the profile (ms since spawn;
// the profile starts a few ms after the spawn, close enough at this scale).
const windowFile = `${file}.window.json`;
const win = fs.existsSync(windowFile) ? JSON.parse(fs.readFileSync(windowFile, 'utf8')) : undefined;
const inWindow = [];
{
  let t = 0;
  prof.samples.forEach((_, i) => {
    t += prof.timeDeltas[i] ?? 0;
    inWindow.push(!win || (t / 1000 >= win.fromMs && t / 1000 <= win.toMs));
  });
}

// Self time per node from the samples and their time deltas (µs).
const self = new Map();
let total = 0;
prof.samples.forEach((id, i) => {
  if (!inWindow[i]) return;
  const dt = prof.timeDeltas[i] ?? 0;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
});

function where(cf) {
  const url = cf.url || '';
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (nm) return nm[1];
  if (url.includes('/dist/')) return `dist/${url.split('/dist/')[1]}`;
  if (url.startsWith('node:')) return url;
  if (!url) return `(${cf.functionName || 'program'})`;
  return url.replace(/^file:\/\//, '');
}
const label = (cf) => `${cf.functionName || '(anonymous)'} ${where(cf)}:${cf.lineNumber + 1}`;

const byWhere = new Map();
const byFn = new Map();
for (const [id, t] of self) {
  const cf = byId.get(id).callFrame;
  byWhere.set(where(cf), (byWhere.get(where(cf)) ?? 0) + t);
  byFn.set(label(cf), (byFn.get(label(cf)) ?? 0) + t);
}

// Inclusive time of project functions (dist/…): each sample counted once per distinct frame.
const incl = new Map();
prof.samples.forEach((id, i) => {
  if (!inWindow[i]) return;
  const dt = prof.timeDeltas[i] ?? 0;
  const seen = new Set();
  for (let n = id; n !== undefined; n = parent.get(n)) {
    const cf = byId.get(n).callFrame;
    if (!cf.url.includes('/dist/') || cf.url.includes('node_modules')) continue;
    const l = label(cf);
    if (seen.has(l)) continue;
    seen.add(l);
    incl.set(l, (incl.get(l) ?? 0) + dt);
  }
});

// --callers NAME: the stacks (project frames and the first frame above NAME) that lead to NAME.
const callersOf = process.argv.includes('--callers')
  ? process.argv[process.argv.indexOf('--callers') + 1]
  : undefined;
if (callersOf) {
  const stacks = new Map();
  for (const [id, t] of self) {
    if (byId.get(id).callFrame.functionName !== callersOf) continue;
    const chain = [];
    for (let n = parent.get(id); n !== undefined && chain.length < 8; n = parent.get(n)) {
      const cf = byId.get(n).callFrame;
      if (cf.functionName === '(root)') break;
      chain.push(label(cf));
    }
    const k = chain.join(' < ');
    stacks.set(k, (stacks.get(k) ?? 0) + t);
  }
  console.log(`\ncallers of ${callersOf}`);
  for (const [k, t] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${(t / 1000).toFixed(0).padStart(6)} ms  ${k}`);
}

const idle = [...self].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)');
const idleUs = idle.reduce((a, [, t]) => a + t, 0);
const busy = total - idleUs;
const show = (title, m) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(
      `${((100 * t) / busy).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(6)} ms  ${k}`,
    );
};
console.log(
  `${file}${win ? ` (measured window ${win.fromMs}–${win.toMs} ms after spawn)` : ''}: ${(total / 1e6).toFixed(2)} s profiled, ${(busy / 1e6).toFixed(2)} s busy (percentages are of busy time)`,
);
show('self time by package / file', byWhere);
show('self time by function', byFn);
show('inclusive time of project functions (dist/)', incl);
