import fs from 'node:fs';
const [f, fn, line] = process.argv.slice(2);
const p = JSON.parse(fs.readFileSync(f));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const count = new Map();
for (const s of p.samples) count.set(s, (count.get(s) ?? 0) + 1);
const incl = new Map();
function inc(n) { let t = count.get(n.id) ?? 0; for (const c of n.children ?? []) t += inc(byId.get(c)); incl.set(n.id, t); return t; }
inc(byId.get(p.nodes[0].id));
const dt = (p.endTime - p.startTime) / p.samples.length / 1000;
// aggregate children of all nodes matching fn (not nested)
const agg = new Map(); let total = 0;
function visit(n, inside) {
  const cf = n.callFrame;
  const match = cf.functionName === fn && (!line || String(cf.lineNumber + 1) === line || String(cf.lineNumber) === line);
  if (match && !inside) {
    total += incl.get(n.id);
    const self = count.get(n.id) ?? 0; agg.set('(self)', (agg.get('(self)') ?? 0) + self);
    for (const c of n.children ?? []) { const cn = byId.get(c); const k = `${cn.callFrame.functionName} ${cn.callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/dist\//, '')}:${cn.callFrame.lineNumber}`; agg.set(k, (agg.get(k) ?? 0) + incl.get(c)); }
  }
  for (const c of n.children ?? []) visit(byId.get(c), inside || match);
}
visit(byId.get(p.nodes[0].id), false);
console.log(fn, line ?? '', 'total', (total * dt).toFixed(0), 'ms');
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log('  ', (v * dt).toFixed(1), k);
