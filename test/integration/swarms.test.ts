// Whole swarms over HTTP against the loopback fake LLM: the CFN Loop's paths end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeRequest } from '../support/fake-llm.js';
import {
  agentOf,
  decision,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';

/** Calls per agent so far, to script "first this, then that". */
function counter() {
  const n = new Map<string, number>();
  return (req: FakeRequest) => {
    const a = agentOf(req);
    const k = (n.get(a) ?? 0) + 1;
    n.set(a, k);
    return k;
  };
}

let h: SwarmHarness;
beforeAll(async () => {
  h = await startSwarmHarness({}, { 'ghost-impl': { role: 'implementer', provider: 'nowhere' } });
});
afterAll(async () => {
  await h?.stop();
});

describe('CFN Loop over HTTP', () => {
  it('passes in one iteration', async () => {
    h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
    const s = await h.submit({
      objective: 'Write a greeting module',
      agents: ['impl-a'],
      validators: ['val-a'],
      mode: 'standard',
    });
    expect(s.status).toBe(202);
    const events = await h.follow(s.id);
    expect(events.map((e) => e.event)).toEqual([
      'swarm.created',
      'iteration.started',
      'task.scheduled',
      'task.started',
      'task.succeeded',
      'gate.evaluated',
      'task.scheduled',
      'task.started',
      'task.succeeded',
      'consensus.evaluated',
      'decision.made',
      'retrospective.recorded',
      'swarm.completed',
    ]);
    const swarm = await h.get(s.id);
    expect(swarm).toMatchObject({ status: 'completed', decision: 'PROCEED', iteration: 1 });
    expect((swarm.tokens as { input: number }).input).toBeGreaterThan(0);
  });
});

describe('CFN Loop paths', () => {
  it('iterates when the gate fails, carrying the feedback, then passes', async () => {
    const count = counter();
    h.llm.setResponder((req) => {
      const k = count(req);
      if (agentOf(req) === 'impl-a')
        return k === 1 ? implementer(0.4, 'unsure') : implementer(0.92, 'fixed');
      return validator(0.95);
    });
    const s = await h.submit({ objective: 'gate test', agents: ['impl-a'], validators: ['val-a'] });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm).toMatchObject({ status: 'completed', iteration: 2 });
    expect(swarm.iterations[0]).toMatchObject({ gate: { passed: false, threshold: 0.75 } });
    const second = h.llm.requests.filter((r) => agentOf(r) === 'impl-a').at(-1)!;
    expect(second.messages[0]!.content).toContain(
      'Confidence gate failed: mean confidence 0.400 is below 0.75',
    );
  });

  it('iterates while validators disagree, then converges', async () => {
    const count = counter();
    h.llm.setResponder((req) => {
      const a = agentOf(req);
      const k = count(req);
      if (a === 'impl-a') return implementer(0.9);
      if (a === 'val-b' && k === 1) return validator(0.4, 'missing error handling');
      return validator(0.96);
    });
    const s = await h.submit({
      objective: 'consensus test',
      agents: ['impl-a'],
      validators: ['val-a', 'val-b'],
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm).toMatchObject({ status: 'completed', iteration: 2 });
    expect(swarm.iterations[0]).toMatchObject({
      consensus: { passed: false },
      decision: { decision: 'ITERATE', by: 'policy' },
    });
    const impl2 = h.llm.requests.filter((r) => agentOf(r) === 'impl-a').at(-1)!;
    expect(impl2.messages[0]!.content).toContain('val-b: missing error handling');
  });

  it('stops when the product owner says ABORT', async () => {
    h.llm.setResponder((req) =>
      agentOf(req) === 'po-agent'
        ? decision('ABORT', 'not feasible')
        : agentOf(req) === 'impl-a'
          ? implementer(0.9)
          : validator(0.5),
    );
    const s = await h.submit({
      objective: 'po abort',
      agents: ['impl-a'],
      validators: ['val-a'],
      productOwner: 'po-agent',
    });
    await h.follow(s.id);
    expect(await h.get(s.id)).toMatchObject({
      status: 'aborted',
      decision: 'ABORT',
      reason: 'not feasible',
    });
  });

  it('ends exhausted after the last iteration without consensus', async () => {
    h.llm.setResponder((req) =>
      agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.3, 'still wrong'),
    );
    const s = await h.submit({
      objective: 'exhaust',
      agents: ['impl-a'],
      validators: ['val-a'],
      mode: 'mvp',
      maxIterations: 2,
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm).toMatchObject({ status: 'exhausted', iteration: 2 });
    expect(String(swarm.reason)).toMatch(/no PROCEED after 2 iteration/);
  });

  it('pauses for a human decision and resumes on it', async () => {
    h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
    const s = await h.submit({
      objective: 'human',
      agents: ['impl-a'],
      validators: ['val-a'],
      approval: 'human',
    });
    // The stream shows the request for a decision; the swarm waits for it.
    await h.waitForEvent(s.id, 'decision.requested');
    expect((await h.get(s.id)).status).toBe('awaiting_decision');
    const events = h.follow(s.id);
    const bad = await h.server.fetch(`/api/swarms/${s.id}/decision`, {
      method: 'POST',
      key: h.server.adminKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'MAYBE' }),
    });
    expect(bad.status).toBe(400);
    const ok = await h.server.fetch(`/api/swarms/${s.id}/decision`, {
      method: 'POST',
      key: h.server.adminKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'PROCEED', feedback: 'ship it' }),
    });
    expect(ok.status).toBe(200);
    expect((await events).map((e) => e.event)).toContain('decision.requested');
    expect(await h.get(s.id)).toMatchObject({ status: 'completed', decision: 'PROCEED' });
    const again = await h.server.fetch(`/api/swarms/${s.id}/decision`, {
      method: 'POST',
      key: h.server.adminKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'PROCEED' }),
    });
    expect(again.status).toBe(409);
  });

  it('ends as budget_exceeded before a call that would overrun the budget', async () => {
    h.llm.setResponder(() => implementer(0.9));
    const before = h.llm.requests.length;
    const s = await h.submit({
      objective: 'budget',
      agents: ['impl-a'],
      validators: ['val-a'],
      budget: { maxTokens: 50 },
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm.status).toBe('budget_exceeded');
    expect(String(swarm.reason)).toMatch(/budget exceeded/);
    expect(h.llm.requests.length).toBe(before); // refused before any call was made
  });

  it('fails a task with a reason when the agent output breaks the contract', async () => {
    h.llm.setResponder((req) =>
      agentOf(req) === 'impl-a' ? { text: 'I did it, trust me.' } : validator(0.95),
    );
    const s = await h.submit({
      objective: 'malformed',
      agents: ['impl-a'],
      validators: ['val-a'],
      maxIterations: 1,
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm.status).toBe('exhausted');
    const task = (swarm.iterations[0]!.tasks as Array<Record<string, unknown>>)[0]!;
    expect(task).toMatchObject({ status: 'failed', agent: 'impl-a' });
    expect(String(task.reason)).toMatch(/no JSON object at the end/);
    // The process is fine: the next swarm runs.
    expect((await h.get(s.id)).id).toBe(s.id);
  });

  it('retries a 429 after Retry-After and completes', async () => {
    let first = true;
    h.llm.setResponder((req) => {
      if (agentOf(req) === 'impl-a' && first) {
        first = false;
        return { status: 429, retryAfterSeconds: 1 };
      }
      return agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95);
    });
    const s = await h.submit({
      objective: 'rate limited',
      agents: ['impl-a'],
      validators: ['val-a'],
    });
    await h.follow(s.id);
    expect((await h.get(s.id)).status).toBe('completed');
    const implCalls = h.llm.requests.filter(
      (r) => agentOf(r) === 'impl-a' && r.messages[0]?.content.includes('rate limited'),
    );
    expect(implCalls.map((r) => r.status ?? 200)).toEqual([429, 200]);
    expect(implCalls[0]!.callKey).toBe(implCalls[1]!.callKey);
    const gap = Date.parse(implCalls[1]!.time) - Date.parse(implCalls[0]!.time);
    expect(gap).toBeGreaterThanOrEqual(900);
  });

  it('fails fast on 401 without retrying', async () => {
    h.llm.setResponder((req) =>
      agentOf(req) === 'impl-a' ? { status: 401, message: 'invalid x-api-key' } : validator(0.95),
    );
    const s = await h.submit({
      objective: 'unauthorized',
      agents: ['impl-a'],
      validators: ['val-a'],
      maxIterations: 1,
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    const task = (swarm.iterations[0]!.tasks as Array<Record<string, unknown>>)[0]!;
    expect(String(task.reason)).toMatch(/auth/);
    expect(task.attempt).toBe(1);
    expect(
      h.llm.requests.filter((r) => r.messages[0]?.content.includes('unauthorized')),
    ).toHaveLength(1);
  });

  it('cancels a swarm mid-call: the call is aborted and the swarm ends cancelled', async () => {
    h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? { hang: true } : validator(0.95)));
    const s = await h.submit({ objective: 'cancel me', agents: ['impl-a'], validators: ['val-a'] });
    const req = await h.llm.waitUntil((rs) =>
      rs.find((r) => r.messages[0]?.content.includes('cancel me')),
    );
    const t0 = Date.now();
    const res = await h.server.fetch(`/api/swarms/${s.id}/cancel`, {
      method: 'POST',
      key: h.server.adminKey,
    });
    expect(res.status).toBe(202);
    await h.follow(s.id);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await h.get(s.id)).toMatchObject({ status: 'cancelled' });
    await h.llm.waitUntil(() => req.clientClosed, 2000);
    expect(req.clientClosed).toBe(true);
  });

  it('replays exactly the missed events to a client reconnecting with Last-Event-ID', async () => {
    h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
    const s = await h.submit({ objective: 'replay', agents: ['impl-a'], validators: ['val-a'] });
    const all = await h.follow(s.id);
    const rest = await h.follow(s.id, 4);
    expect(rest.map((e) => e.id)).toEqual(all.filter((e) => e.id > 4).map((e) => e.id));
    expect(rest[0]!.id).toBe(5);
    const none = await h.follow(s.id, all.at(-1)!.id);
    expect(none).toEqual([]);
  });
});

describe('provider routing', () => {
  it('warns at start about an agent routed to an unconfigured provider, and refuses swarms using it', async () => {
    const warning = h.server.logs
      .lines()
      .find(
        (l) =>
          l.msg === 'agent names a provider that is not configured: swarms using it are refused',
      );
    expect(warning).toMatchObject({ agent: 'ghost-impl', provider: 'nowhere' });
    const s = await h.submit({ objective: 'x', agents: ['ghost-impl'], validators: [] });
    expect(s.status).toBe(400);
    expect(JSON.stringify(s.body)).toMatch(
      /agent ghost-impl: unknown LLM provider \\"nowhere\\"; configured: anthropic/,
    );
  });
});
