// The service against an LLM API that refuses (429, Retry-After) every call past a few at once,
// with the SDK's retries off: the provider's flow control adapts, every swarm completes, no task
// fails, no answered call is made twice, and /metrics shows the throttling. Then a configured
// maxConcurrency and requests-per-minute hold for the whole service.
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeRequest } from '../support/fake-llm.js';
import {
  agentOf,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';

let h: SwarmHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const open = (rs: readonly FakeRequest[], except?: FakeRequest) =>
  rs.filter((r) => r !== except && r.respondedAt === undefined && !r.clientClosed).length;

async function runSwarms(n: number): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const s = await h!.submit({
        objective: `limits swarm ${i}`,
        agents: ['impl-a', 'impl-b', 'impl-a', 'impl-b'],
        validators: ['val-a'],
        mode: 'mvp',
      });
      expect(s.status).toBe(202);
      return s.id;
    }),
  );
  await Promise.all(ids.map((id) => h!.follow(id)));
  return ids;
}

async function metric(name: string): Promise<number> {
  const res = await h!.server.fetch('/metrics', { key: h!.server.adminKey });
  const line = (await res.text())
    .split('\n')
    .find((l) => l.startsWith(`${name}{provider="anthropic"}`));
  return Number(line?.split(' ').at(-1));
}

describe('provider limits through the service', () => {
  it('adapts to an API that answers 429 past 6 calls at once: every swarm completes, no call lost or repeated', async () => {
    h = await startSwarmHarness({
      CFN_LLM_MAX_RETRIES: '0',
      CFN_MAX_CONCURRENT_AGENTS: '100',
      CFN_MAX_STREAMS_PER_CALLER: '50',
    });
    h.llm.setResponder((req) => {
      if (open(h!.llm.requests, req) >= 6) return { status: 429, retryAfterSeconds: 0.3 };
      const reply = agentOf(req).startsWith('impl') ? implementer(0.9) : validator(0.95);
      return { ...reply, delayMs: 100 };
    });
    const ids = await runSwarms(12);
    for (const id of ids) {
      const swarm = await h.get(id);
      expect(swarm.status).toBe('completed');
    }
    const refused = h.llm.requests.filter((r) => r.status === 429).length;
    expect(refused).toBeGreaterThan(0);
    // Each call answered once: 12 swarms × (4 implementers + 1 validator).
    const answered = h.llm.requests.filter((r) => r.completed);
    expect(answered).toHaveLength(60);
    expect(new Set(answered.map((r) => r.callKey)).size).toBe(60);
    expect(h.server.logs.lines().filter((l) => l.msg === 'llm call failed')).toEqual([]);
    expect(await metric('llm_rate_limited_total')).toBe(refused);
    expect(await metric('llm_requests_in_flight')).toBe(0);
    expect(await metric('llm_concurrency_limit')).toBeLessThanOrEqual(12);
  }, 120_000);

  it('keeps a configured maxConcurrency for the whole service', async () => {
    h = await startSwarmHarness({ CFN_LLM_MAX_CONCURRENCY: '3', CFN_MAX_CONCURRENT_AGENTS: '50' });
    let peak = 0;
    h.llm.setResponder((req) => {
      peak = Math.max(peak, open(h!.llm.requests));
      const reply = agentOf(req).startsWith('impl') ? implementer(0.9) : validator(0.95);
      return { ...reply, delayMs: 50 };
    });
    await runSwarms(4);
    expect(peak).toBe(3);
    expect(await metric('llm_concurrency_limit')).toBe(3);
  }, 60_000);

  it('refuses to start on a bad limit, naming the variable', async () => {
    await expect(startSwarmHarness({ CFN_LLM_REQUESTS_PER_MINUTE: 'fast' })).rejects.toThrow(
      /CFN_LLM_REQUESTS_PER_MINUTE/,
    );
  });
});
