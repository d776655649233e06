// Property tests of the CFN decision machine: random swarms driven to the end by a pure simulator.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MODE_RULES, type Mode, type Strategy } from './modes.js';
import { nextAction, type Action } from './next-action.js';
import type { SwarmEvent, SwarmSpec, TaskSpec } from './spec.js';
import { foldEvents, latestBySlot, type SwarmState } from './state.js';

interface Outcome {
  fail: boolean;
  retryable: boolean;
  budget: boolean;
  value: number; // confidence or score
  decision: 'PROCEED' | 'ITERATE' | 'ABORT';
}

const outcomeArb: fc.Arbitrary<Outcome> = fc.record({
  fail: fc.constantFrom(false, false, false, false, true),
  retryable: fc.boolean(),
  budget: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
  value: fc.double({ min: 0, max: 1, noNaN: true }),
  decision: fc.constantFrom('PROCEED', 'ITERATE', 'ITERATE', 'ABORT'),
});

function specArb(): fc.Arbitrary<SwarmSpec> {
  return fc
    .record({
      strategy: fc.constantFrom<Strategy>('cfn-loop', 'parallel', 'sequential', 'hierarchical'),
      mode: fc.constantFrom<Mode>('mvp', 'standard', 'enterprise'),
      agents: fc.integer({ min: 1, max: 4 }),
      validators: fc.integer({ min: 0, max: 3 }),
      commandValidator: fc.boolean(),
      po: fc.boolean(),
      human: fc.boolean(),
      workspace: fc.boolean(),
      maxAttempts: fc.integer({ min: 1, max: 3 }),
    })
    .map((r) => {
      const rules = MODE_RULES[r.mode];
      return {
        objective: 'build it',
        strategy: r.strategy,
        mode: r.mode,
        agents: Array.from({ length: r.agents }, (_, i) => `impl-${i}`),
        validators: Array.from({ length: r.validators }, (_, i) =>
          r.commandValidator && i === 0
            ? { kind: 'command' as const, command: 'npm test', timeoutMs: 1000 }
            : { kind: 'agent' as const, agent: `val-${i}` },
        ),
        productOwner: r.po ? 'product-owner' : undefined,
        coordinator: r.strategy === 'hierarchical' ? 'coordinator' : undefined,
        approval: r.human ? 'human' : 'auto',
        workspace: r.workspace ? '/tmp/ws' : undefined,
        gate: rules.gate,
        consensus: rules.consensus,
        maxIterations: Math.min(rules.maxIterations, 4),
        maxAttempts: r.maxAttempts,
      } satisfies SwarmSpec;
    });
}

interface Trace {
  state: SwarmState;
  events: SwarmEvent[];
  actions: Action[];
}

/** Carries actions out with outcomes drawn from `outcomes` (cycled), like the engine would. */
function simulate(spec: SwarmSpec, outcomes: Outcome[], cancelAtStep: number | undefined): Trace {
  const events: SwarmEvent[] = [{ type: 'swarm.created', spec }];
  const actions: Action[] = [];
  let k = 0;
  const draw = () => outcomes[k++ % outcomes.length]!;
  for (let step = 0; step < 2000; step++) {
    const state = foldEvents(events);
    if (step === cancelAtStep) events.push({ type: 'swarm.cancel_requested', by: 'test' });
    const action = nextAction(step === cancelAtStep ? foldEvents(events) : state);
    actions.push(action);
    switch (action.kind) {
      case 'none':
        return { state: foldEvents(events), events, actions };
      case 'append':
        events.push(...action.events);
        break;
      case 'start-iteration':
        events.push({
          type: 'iteration.started',
          iteration: action.iteration,
          feedback: action.feedback,
        });
        break;
      case 'check-deliverable':
        events.push({
          type: 'deliverable.checked',
          iteration: action.iteration,
          changedFiles: draw().fail ? [] : ['a.ts'],
          passed: true,
        });
        // keep passed consistent with the files
        {
          const last = events[events.length - 1] as Extract<
            SwarmEvent,
            { type: 'deliverable.checked' }
          >;
          last.passed = last.changedFiles.length > 0;
        }
        break;
      case 'schedule':
        for (const t of action.tasks) {
          events.push({ type: 'task.scheduled', ...t });
          events.push(...runTask(t, draw()));
        }
        break;
      case 'wait': {
        // Only a human decision can be awaited here (tasks complete at once in the simulator).
        const it = state.iterations[state.iterations.length - 1]!;
        events.push({
          type: 'decision.made',
          iteration: it.n,
          decision: draw().decision,
          rationale: 'human',
          by: 'human',
        });
        break;
      }
      case 'finish':
        if (action.retrospective) events.push({ type: 'retrospective.recorded', entryId: 'p1' });
        events.push({ type: 'swarm.completed', status: action.status, reason: action.reason });
        break;
    }
  }
  throw new Error('the swarm did not finish within 2000 steps');
}

function runTask(t: TaskSpec, o: Outcome): SwarmEvent[] {
  const tokens = { input: 10, output: 5 };
  if (o.budget) {
    return [
      {
        type: 'task.failed',
        taskId: t.taskId,
        reason: 'budget exhausted',
        retryable: false,
        budgetExceeded: true,
        tokens,
        costUsd: 0,
      },
    ];
  }
  if (o.fail)
    return [
      {
        type: 'task.failed',
        taskId: t.taskId,
        reason: 'bad output',
        retryable: o.retryable,
        tokens,
        costUsd: 0.01,
      },
    ];
  const output: Record<string, unknown> =
    t.phase === 'implement'
      ? { confidence: o.value, summary: 'did it' }
      : t.phase === 'validate'
        ? { score: o.value, approve: o.value > 0.5, feedback: 'ok' }
        : t.phase === 'decide'
          ? { decision: o.decision, rationale: 'po' }
          : {
              subtasks: [
                { title: 'a', instructions: 'do a', agent: 'impl-0' },
                { title: 'b', instructions: 'do b' },
              ],
              summary: 'plan',
            };
  return [
    { type: 'task.started', taskId: t.taskId, worker: 'sim' },
    { type: 'task.succeeded', taskId: t.taskId, output, tokens, costUsd: 0.01 },
  ];
}

const runs = fc.tuple(
  specArb(),
  fc.array(outcomeArb, { minLength: 1, maxLength: 30 }),
  fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
);

describe('CFN decision machine (properties)', () => {
  it('always terminates in a terminal status within the iteration limit', () => {
    fc.assert(
      fc.property(runs, ([spec, outcomes, cancelAt]) => {
        const { state } = simulate(spec, outcomes, cancelAt);
        expect(state.completion).toBeDefined();
        expect([
          'completed',
          'aborted',
          'exhausted',
          'failed',
          'cancelled',
          'budget_exceeded',
        ]).toContain(state.status);
        expect(state.iterations.length).toBeLessThanOrEqual(spec.maxIterations);
      }),
      { numRuns: 400 },
    );
  });

  it('never schedules a task id twice, and respects the attempt limit', () => {
    fc.assert(
      fc.property(runs, ([spec, outcomes, cancelAt]) => {
        const { events } = simulate(spec, outcomes, cancelAt);
        const ids = events
          .filter((e) => e.type === 'task.scheduled')
          .map((e) => (e as TaskSpec).taskId);
        expect(new Set(ids).size).toBe(ids.length);
        for (const e of events)
          if (e.type === 'task.scheduled') expect(e.attempt).toBeLessThanOrEqual(spec.maxAttempts);
      }),
      { numRuns: 300 },
    );
  });

  it('completes only on PROCEED, and with validators under the policy only when consensus passed', () => {
    fc.assert(
      fc.property(runs, ([spec, outcomes, cancelAt]) => {
        const { state } = simulate(spec, outcomes, cancelAt);
        if (state.status !== 'completed') return;
        const last = state.iterations[state.iterations.length - 1]!;
        expect(last.decision?.decision).toBe('PROCEED');
        if (last.decision?.by === 'policy' && spec.validators.length)
          expect(last.consensus?.passed).toBe(true);
        if (spec.strategy === 'cfn-loop') expect(last.gate?.passed).toBe(true);
        if (spec.workspace) expect(last.deliverable?.passed).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('never runs validators in an iteration whose gate failed or whose deliverable is empty', () => {
    fc.assert(
      fc.property(runs, ([spec, outcomes, cancelAt]) => {
        const { state } = simulate(spec, outcomes, cancelAt);
        for (const it of state.iterations) {
          const validated = it.tasks.some((t) => t.phase === 'validate');
          if (it.gate && !it.gate.passed) expect(validated).toBe(false);
          if (it.deliverable && !it.deliverable.passed) expect(validated).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('carries feedback into the next iteration after a rejected one', () => {
    fc.assert(
      fc.property(runs, ([spec, outcomes, cancelAt]) => {
        const { state } = simulate(spec, outcomes, cancelAt);
        for (const it of state.iterations.slice(1)) expect(it.feedback.length).toBeGreaterThan(0);
        expect(state.iterations[0]?.feedback ?? []).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('chains sequential agents: a link starts only after the previous one succeeded', () => {
    fc.assert(
      fc.property(runs, ([spec, outcomes]) => {
        if (spec.strategy !== 'sequential') return;
        const { state } = simulate(spec, outcomes, undefined);
        for (const it of state.iterations) {
          const latest = latestBySlot(it, 'implement');
          for (const [slot] of latest)
            if (slot > 0) expect(latest.get(slot - 1)?.status).toBe('succeeded');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('ends as cancelled right after a cancel request, and as budget_exceeded after exhaustion', () => {
    fc.assert(
      fc.property(runs, ([spec, outcomes, cancelAt]) => {
        const { state, events } = simulate(spec, outcomes, cancelAt);
        const cancelIdx = events.findIndex((e) => e.type === 'swarm.cancel_requested');
        const budgetIdx = events.findIndex((e) => e.type === 'task.failed' && e.budgetExceeded);
        const completedIdx = events.findIndex((e) => e.type === 'swarm.completed');
        const firstStop = [cancelIdx, budgetIdx]
          .filter((i) => i >= 0 && i < completedIdx)
          .sort((a, b) => a - b)[0];
        if (firstStop === undefined) return;
        expect(state.status).toBe(firstStop === cancelIdx ? 'cancelled' : 'budget_exceeded');
      }),
      { numRuns: 300 },
    );
  });
});

describe('CFN decision machine (examples)', () => {
  const spec: SwarmSpec = {
    objective: 'x',
    strategy: 'cfn-loop',
    mode: 'standard',
    agents: ['coder'],
    validators: [{ kind: 'agent', agent: 'reviewer' }],
    approval: 'auto',
    gate: 0.75,
    consensus: 0.9,
    maxIterations: 10,
    maxAttempts: 2,
  };

  it('passes in one iteration when confidence and consensus are high', () => {
    const good: Outcome = {
      fail: false,
      retryable: false,
      budget: false,
      value: 0.95,
      decision: 'PROCEED',
    };
    const { state } = simulate(spec, [good], undefined);
    expect(state.status).toBe('completed');
    expect(state.iterations).toHaveLength(1);
  });

  it('iterates when the gate fails, then passes', () => {
    const low: Outcome = {
      fail: false,
      retryable: false,
      budget: false,
      value: 0.5,
      decision: 'PROCEED',
    };
    const high: Outcome = { ...low, value: 0.95 };
    const { state } = simulate(spec, [low, high, high], undefined);
    expect(state.status).toBe('completed');
    expect(state.iterations).toHaveLength(2);
    expect(state.iterations[0]!.gate?.passed).toBe(false);
    expect(state.iterations[1]!.feedback[0]).toMatch(
      /Confidence gate failed: mean confidence 0.500 is below 0.75/,
    );
  });

  it('exhausts after the last iteration without consensus', () => {
    const meh: Outcome = {
      fail: false,
      retryable: false,
      budget: false,
      value: 0.8,
      decision: 'ITERATE',
    };
    const { state } = simulate({ ...spec, maxIterations: 3 }, [meh], undefined);
    expect(state.status).toBe('exhausted');
    expect(state.iterations).toHaveLength(3);
    expect(state.iterations[2]!.feedback[0]).toMatch(/^reviewer: ok/);
  });

  it('retries a retryable failure once more, then counts it as failed', () => {
    const flaky: Outcome = {
      fail: true,
      retryable: true,
      budget: false,
      value: 0,
      decision: 'PROCEED',
    };
    const good: Outcome = {
      fail: false,
      retryable: false,
      budget: false,
      value: 0.99,
      decision: 'PROCEED',
    };
    const { state } = simulate(spec, [flaky, good, good], undefined);
    expect(state.status).toBe('completed');
    const impl = state.iterations[0]!.tasks.filter((t) => t.phase === 'implement');
    expect(impl.map((t) => t.attempt)).toEqual([1, 2]);
  });
});
