import { spawn } from 'node:child_process';
import { request, Agent } from 'undici';
import { createAnthropicProvider } from '../../../dist/providers/anthropic-provider.js';
import Anthropic from '@anthropic-ai/sdk';
import { defaultProviderFetch } from '/work/main/dist/providers/provider-fetch.js';
const child = spawn('node', ['/work/main/test/support/fake-llm-main.mjs', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((r) => child.stdout.once('data', (d) => r(JSON.parse(String(d)).url)));
const N = 4000, C = 32;
const body = { model: 'm', max_tokens: 100, system: 'AGENT=impl-01 you are', messages: [{ role: 'user', content: 'x'.repeat(600) }] };
async function run(label, fn) {
  for (let i = 0; i < 300; i++) await fn();
  const c0 = process.cpuUsage(); const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: C }, async () => { while (next++ < N) await fn(); }));
  const c = process.cpuUsage(c0); const ms = performance.now() - t0;
  console.log(label, ((c.user + c.system) / 1000 / N).toFixed(3), 'ms CPU/call', (N / ms * 1000).toFixed(0), 'calls/s');
}
const provider = createAnthropicProvider({ name: 'a', apiKey: 'x', baseUrl: url, defaultModel: 'm', maxRetries: 2 });
const sdk = new Anthropic({ apiKey: 'x', baseURL: url, maxRetries: 2, fetch: defaultProviderFetch() });
const agent = new Agent({ connections: 128 });
for (let k = 0; k < 2; k++) {
await run('undici request', async () => { const r = await request(url + '/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'x', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body), dispatcher: agent }); await r.body.json(); });
await run('sdk + our fetch', async () => { await sdk.messages.create(body); });
await run('provider.complete', async () => { await provider.complete({ model: 'm', system: body.system, messages: [{ role: 'user', content: body.messages[0].content }], maxTokens: 100, timeoutMs: 60000, signal: new AbortController().signal }); });
}
child.kill();
