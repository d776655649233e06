// Correlation ids across services: one X-Request-Id sent with a swarm submission finds the API's
// access log line, the engine's log lines for that swarm, and the header on every provider call
// the fake LLM received; another swarm's id never mixes in.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  agentOf,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';

let h: SwarmHarness;
beforeAll(async () => {
  h = await startSwarmHarness();
  h.llm.setResponder((req) => (agentOf(req) === 'val-a' ? validator(0.95) : implementer(0.9)));
});
afterAll(async () => {
  await h?.stop();
});

async function submit(requestId: string, objective: string): Promise<string> {
  const res = await h.server.fetch('/api/swarms', {
    method: 'POST',
    key: h.server.adminKey,
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ objective, agents: ['impl-a'], validators: ['val-a'] }),
  });
  expect(res.status).toBe(202);
  expect(res.headers.get('x-request-id')).toBe(requestId);
  return ((await res.json()) as { id: string }).id;
}

it('follows one request id from the API through the queued jobs into every provider call', async () => {
  const traced = 'trace-7f3a.monitoring';
  const other = 'trace-other.monitoring';
  const [a, b] = await Promise.all([
    submit(traced, 'traced objective'),
    submit(other, 'other objective'),
  ]);
  await Promise.all([h.follow(a), h.follow(b)]);

  const lines = h.server.logs.lines();
  const mine = lines.filter((l) => l.requestId === traced);
  // The API's access log line for the submission.
  expect(mine).toContainEqual(
    expect.objectContaining({
      msg: 'request completed',
      method: 'POST',
      route: '/api/swarms',
      status: 202,
    }),
  );
  // The engine's lines for that swarm, written from queued jobs long after the request ended.
  expect(mine).toContainEqual(
    expect.objectContaining({ msg: 'swarm finished', swarmId: a, status: 'completed' }),
  );
  for (const l of lines.filter((x) => x.swarmId === a))
    expect(l.requestId, String(l.msg)).toBe(traced);
  for (const l of lines.filter((x) => x.swarmId === b))
    expect(l.requestId, String(l.msg)).toBe(other);

  // Every provider call of the swarm carried the id as x-request-id (implementer and validator).
  const calls = h.llm.requests.filter((r) =>
    r.messages.some((m) => m.content.includes('traced objective')),
  );
  expect(calls.map(agentOf).sort()).toEqual(['impl-a', 'val-a']);
  for (const c of calls) expect(c.headers['x-request-id']).toBe(traced);
  const otherCalls = h.llm.requests.filter((r) =>
    r.messages.some((m) => m.content.includes('other objective')),
  );
  expect(otherCalls.length).toBeGreaterThan(0);
  for (const c of otherCalls) expect(c.requestId).toBe(other);
});
