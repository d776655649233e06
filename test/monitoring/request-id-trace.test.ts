// Correlation ids across services: one X-Request-Id sent with a swarm submission finds the API's
// access log line, the engine's log lines for that swarm, and the header on every provider call
// the fake LLM received; another swarm's id never mixes in.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  agentOf,
  hangingOn,
  startSwarmHarness,
  type SwarmHarness,
} from '../support/swarm-harness.js';

let h: SwarmHarness;
beforeAll(async () => {
  h = await startSwarmHarness();
  h.llm.setResponder(hangingOn('held objective'));
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

/** Each event of the swarm with the request id written on it. */
async function eventIds(swarmId: string): Promise<Array<{ type: string; requestId: string }>> {
  const rows = await h.server.runtime.database.db.execute(
    sql`select type, request_id from events where swarm_id = ${swarmId} order by seq`,
  );
  return (rows as unknown as { rows: Array<{ type: string; request_id: string }> }).rows.map(
    (r) => ({ type: r.type, requestId: r.request_id }),
  );
}

it("writes the submitter's id on its jobs' events and a cancel's own id on the cancel", async () => {
  const done = await submit('trace-events.monitoring', 'events objective');
  await h.follow(done);
  const written = await eventIds(done);
  expect(written.length).toBeGreaterThan(5);
  for (const e of written) expect(e.requestId, e.type).toBe('trace-events.monitoring');

  const held = await submit('trace-submit.monitoring', 'held objective');
  await h.waitForEvent(held, 'task.started');
  const res = await h.server.fetch(`/api/swarms/${held}/cancel`, {
    method: 'POST',
    key: h.server.adminKey,
    headers: { 'x-request-id': 'trace-cancel.monitoring' },
  });
  expect(res.status).toBe(202);
  await h.follow(held);
  const events = await eventIds(held);
  const cancel = events.filter((e) => e.type === 'swarm.cancel_requested');
  expect(cancel).toEqual([
    { type: 'swarm.cancel_requested', requestId: 'trace-cancel.monitoring' },
  ]);
  const rest = events.filter((e) => e.type !== 'swarm.cancel_requested');
  expect(rest.map((e) => e.type)).toContain('swarm.completed');
  for (const e of rest) expect(e.requestId, e.type).toBe('trace-submit.monitoring');
  // Its log lines name the submitter too, the cancel's access-log line the cancel.
  const lines = h.server.logs.lines();
  for (const l of lines.filter((x) => x.swarmId === held))
    expect(l.requestId, String(l.msg)).toBe('trace-submit.monitoring');
  expect(lines).toContainEqual(
    expect.objectContaining({
      msg: 'request completed',
      route: '/api/swarms/:id/cancel',
      requestId: 'trace-cancel.monitoring',
    }),
  );
});
