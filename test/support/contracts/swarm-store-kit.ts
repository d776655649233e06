// What the SwarmStore contracts share: a swarm spec, a new swarm in the store, and an append made
// the way the engine makes it (fold first, then append where the state was).
import { randomUUID } from 'node:crypto';
import type { SwarmEvent, SwarmSpec } from '../../../src/domain/cfn/spec.js';
import { applyEvent, initialState, type SwarmState } from '../../../src/domain/cfn/state.js';
import type { JournalEntry, Lease, SwarmStore } from '../../../src/ports/swarm-store.js';

export const spec = (objective: string): SwarmSpec => ({
  objective,
  strategy: 'cfn-loop',
  mode: 'mvp',
  agents: ['coder'],
  validators: [{ kind: 'agent', agent: 'reviewer' }],
  approval: 'auto',
  gate: 0.7,
  consensus: 0.8,
  maxIterations: 5,
  maxAttempts: 2,
});

/** A swarm in the store and the engine's view of it. */
export async function newSwarm(store: SwarmStore, objective = 'contract swarm') {
  const id = randomUUID();
  const s = spec(objective);
  await store.create({ id, spec: s, createdBy: 'test', requestId: 'req-1' });
  return { id, state: initialState(s) };
}

/** Folds `events` into `state` and appends them where the state was. */
export function append(
  store: SwarmStore,
  id: string,
  state: SwarmState,
  events: SwarmEvent[],
  journal?: JournalEntry[],
  lease?: Lease,
) {
  const expected = state.seq;
  for (const e of events) applyEvent(state, e);
  return store.append(id, expected, events, state, {
    requestId: 'req-2',
    journal: journal ?? [],
    ...(lease ? { lease } : {}),
  });
}

export const implTask = (iteration: number) => ({
  taskId: `i${iteration}-implement-0-a1`,
  iteration,
  phase: 'implement' as const,
  slot: 0,
  attempt: 1,
  agent: 'coder',
  prompt: 'Do it',
});
