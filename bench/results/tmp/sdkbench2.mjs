import { spawn } from 'node:child_process';
import Anthropic from '@anthropic-ai/sdk';
import { createUndiciFetch, createAttemptCounter } from '../../../dist/providers/provider-fetch.js';
const child = spawn('node', ['test/support/fake-llm-main.mjs', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((r) => child.stdout.once('data', (d) => r(JSON.parse(String(d)).url)));
const N = 6000, C = 32;
const body = { model: 'm', max_tokens: 100, system: 'AGENT=impl-01 you are', messages: [{ role: 'user', content: 'x'.repeat(600) }] };
async function run(label, fn) {
  for (let i = 0; i < 500; i++) await fn();
  const c0 = process.cpuUsage(); const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: C }, async () => { while (next++ < N) await fn(); }));
  const c = process.cpuUsage(c0);
  console.log(label, ((c.user + c.system) / 1000 / N).toFixed(4), 'ms CPU/call');
}
const f = createUndiciFetch();
let seenType;
const spy = async (u, init) => { seenType ??= init.headers?.constructor?.name; return f(u, init); };
const counter = createAttemptCounter(f);
const sdkPlain = new Anthropic({ apiKey: 'x', baseURL: url, maxRetries: 2, fetch: spy, openTelemetry: false });
const sdkCounter = new Anthropic({ apiKey: 'x', baseURL: url, maxRetries: 2, fetch: counter.fetch, openTelemetry: false });
for (let k = 0; k < 3; k++) {
  await run('raw fetch shim', async () => { const r = await f(url + '/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'x', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) }); await r.json(); });
  await run('sdk, plain fetch', async () => { await sdkPlain.messages.create(body); });
  await run('sdk, counter fetch', async () => { const c = counter.begin(); await sdkCounter.messages.create(body, { headers: c.headers }); c.end(); });
}
console.log('headers type', seenType);
child.kill();
