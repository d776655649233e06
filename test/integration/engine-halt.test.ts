// Halting the engine (what a restore does first): calls are aborted and their tasks left open,
// nothing is appended while halted, and resuming reloads the swarm from its log and finishes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
afterAll(async () => {
  await h?.stop();
});

describe('engine halt and resume', () => {
  it('stops a running swarm without writing, then finishes it from the log', async () => {
    h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? { hang: true } : validator(0.95)));
    const s = await h.submit({ objective: 'halt me', agents: ['impl-a'], validators: ['val-a'] });
    const call = await h.llm.waitUntil((rs) => rs.find((r) => agentOf(r) === 'impl-a'));
    const engine = h.server.runtime.engine!.engine;
    await engine.halt();
    await h.llm.waitUntil(() => call.clientClosed);
    const before = await h.get(s.id);
    const state = await engine.state(s.id);
    expect(before.status).toBe('running');
    // A job that starts while halted does nothing.
    await engine.handlers['swarm.advance']({ swarmId: s.id }, new AbortController().signal, {
      redelivered: false,
    });
    const tasks = await h.server.runtime.engine!.store.tasks(s.id);
    expect(tasks.map((t) => t.status)).toEqual(['running']);
    expect(state.iterations[0]?.tasks[0]?.status).toBe('running');

    h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
    await engine.resume();
    const all = await h.follow(s.id);
    expect(all.at(-1)?.data).toMatchObject({ status: 'completed' });
    const outcomes = all.filter((e) => e.event === 'task.succeeded' || e.event === 'task.failed');
    expect(outcomes.map((e) => e.data.taskId)).toEqual(['i1.implement.0.a1', 'i1.validate.0.a1']);
  });
});
