// The live view's text: one line per meaningful event, the status line, summary and next steps.
import { describe, expect, it } from 'vitest';
import type { SwarmEvent, SwarmSpec } from '../domain/cfn/spec.js';
import type { StreamEvent } from './api-types.js';
import {
  applyProgress,
  createProgress,
  eventLine,
  formatDuration,
  nextStep,
  statusLine,
  summaryLines,
  truncate,
  type ProgressState,
} from './progress-view.js';

const ID = '11111111-2222-4333-8444-555555555555';
const T0 = Date.parse('2025-01-01T10:00:00.000Z');
const spec: SwarmSpec = {
  objective: 'Write a greeting module',
  strategy: 'cfn-loop',
  mode: 'standard',
  agents: ['impl-a'],
  validators: [
    { kind: 'agent', agent: 'val-a' },
    { kind: 'command', command: 'npm test', timeoutMs: 60_000 },
  ],
  productOwner: 'po-agent',
  approval: 'auto',
  gate: 0.75,
  consensus: 0.9,
  maxIterations: 10,
  maxAttempts: 2,
};

let seq = 0;
function ev(e: SwarmEvent, atMs = T0 + seq * 1000): StreamEvent {
  seq += 1;
  return { ...e, seq, at: new Date(atMs).toISOString() } as StreamEvent;
}

/** Applies the events in order and returns the line of the last one. */
function lineAfter(s: ProgressState, ...events: StreamEvent[]): string | undefined {
  let line: string | undefined;
  for (const e of events) {
    applyProgress(s, e);
    line = eventLine(e, s);
  }
  return line;
}

const sched = (taskId: string, phase: 'implement' | 'validate' | 'decide', extra = {}) =>
  ev({ type: 'task.scheduled', taskId, iteration: 1, phase, slot: 0, attempt: 1, ...extra });
const tokens = { input: 100, output: 20 };

describe('eventLine', () => {
  it('describes the swarm when it is created', () => {
    const s = createProgress(ID);
    expect(lineAfter(s, ev({ type: 'swarm.created', spec }))).toBe(
      `Swarm ${ID}: cfn-loop, standard mode, agents impl-a, validators val-a, \`npm test\`, ` +
        'product owner po-agent (gate 0.75, consensus 0.9, up to 10 iterations)',
    );
    expect(s.maxIterations).toBe(10);
    expect(s.startedAt).toBeTypeOf('number');
  });

  it('numbers iterations against the limit and counts feedback', () => {
    const s = createProgress(ID, { maxIterations: 5 });
    expect(lineAfter(s, ev({ type: 'iteration.started', iteration: 1, feedback: [] }))).toBe(
      'Iteration 1/5 started',
    );
    expect(
      lineAfter(s, ev({ type: 'iteration.started', iteration: 2, feedback: ['a', 'b'] })),
    ).toBe('Iteration 2/5 started (addressing 2 feedback item(s))');
  });

  it('names the agent and its confidence, score or decision when a task succeeds', () => {
    const s = createProgress(ID);
    expect(lineAfter(s, sched('t1', 'implement', { agent: 'impl-a' }))).toBeUndefined();
    expect(lineAfter(s, ev({ type: 'task.started', taskId: 't1', worker: 'w1' }))).toBeUndefined();
    expect(
      lineAfter(
        s,
        ev({
          type: 'task.succeeded',
          taskId: 't1',
          output: { confidence: 0.9, summary: 'added greet()\nand tests' },
          tokens,
          costUsd: 0.01,
        }),
      ),
    ).toBe('  ✓ impl-a (implement) confidence 0.90: added greet() …');
    expect(
      lineAfter(
        s,
        sched('t2', 'validate', { agent: 'val-a' }),
        ev({
          type: 'task.succeeded',
          taskId: 't2',
          output: { score: 0.95, feedback: 'looks fine' },
          tokens,
          costUsd: 0,
        }),
      ),
    ).toBe('  ✓ val-a (validate) score 0.95: looks fine');
    expect(
      lineAfter(
        s,
        sched('t3', 'validate', { command: 'npm test' }),
        ev({
          type: 'task.succeeded',
          taskId: 't3',
          output: { score: 1, feedback: '`npm test` passed', exitCode: 0 },
          tokens: { input: 0, output: 0 },
          costUsd: 0,
        }),
      ),
    ).toBe('  ✓ `npm test` (validate) score 1.00: `npm test` passed');
    expect(
      lineAfter(
        s,
        sched('t4', 'decide', { agent: 'po-agent' }),
        ev({
          type: 'task.succeeded',
          taskId: 't4',
          output: { decision: 'PROCEED', rationale: 'ship it' },
          tokens,
          costUsd: 0,
        }),
      ),
    ).toBe('  ✓ po-agent (decide) decision PROCEED: ship it');
  });

  it('gives the reason when a task fails, and says when it will be retried', () => {
    const failure = (taskId: string) =>
      ev({
        type: 'task.failed',
        taskId,
        reason: 'anthropic call failed (server): 503',
        retryable: true,
        tokens: { input: 0, output: 0 },
        costUsd: 0,
      });
    const s = createProgress(ID);
    expect(
      lineAfter(s, sched('t1', 'implement', { agent: 'impl-a', attempt: 1 }), failure('t1')),
    ).toBe('  ✗ impl-a (implement) failed: anthropic call failed (server): 503 (will retry)');
    // The last attempt (2 by default) is not retried, whatever the error.
    expect(
      lineAfter(s, sched('t2', 'implement', { agent: 'impl-a', attempt: 2 }), failure('t2')),
    ).toBe('  ✗ impl-a (implement, attempt 2) failed: anthropic call failed (server): 503');
  });

  it('shows tool calls indented under their task', () => {
    const s = createProgress(ID);
    expect(
      lineAfter(
        s,
        ev({
          type: 'tool.called',
          taskId: 't',
          tool: 'write_file',
          ok: true,
          summary: 'wrote a.ts',
        }),
      ),
    ).toBe('    · write_file: wrote a.ts');
  });

  it('compares gate and consensus scores with their thresholds', () => {
    const s = createProgress(ID);
    expect(
      lineAfter(
        s,
        ev({ type: 'gate.evaluated', iteration: 1, score: 0.9, threshold: 0.75, passed: true }),
      ),
    ).toBe('  Gate passed: mean confidence 0.90 ≥ 0.75');
    expect(
      lineAfter(
        s,
        ev({ type: 'gate.evaluated', iteration: 1, score: 0.5, threshold: 0.75, passed: false }),
      ),
    ).toBe('  Gate failed: mean confidence 0.50 < 0.75');
    expect(
      lineAfter(
        s,
        ev({
          type: 'consensus.evaluated',
          iteration: 1,
          score: 0.95,
          threshold: 0.9,
          passed: true,
        }),
      ),
    ).toBe('  Consensus reached: mean score 0.95 ≥ 0.90');
    expect(
      lineAfter(
        s,
        ev({
          type: 'consensus.evaluated',
          iteration: 1,
          score: 0.3,
          threshold: 0.9,
          passed: false,
        }),
      ),
    ).toBe('  Consensus not reached: mean score 0.30 < 0.90');
  });

  it('reports the deliverable check', () => {
    const s = createProgress(ID);
    expect(
      lineAfter(
        s,
        ev({
          type: 'deliverable.checked',
          iteration: 1,
          changedFiles: ['a.ts', 'b.ts', 'c.ts', 'd.ts'],
          passed: true,
        }),
      ),
    ).toBe('  Deliverable check passed: 4 file(s) changed (a.ts, b.ts, c.ts, +1)');
    expect(
      lineAfter(
        s,
        ev({ type: 'deliverable.checked', iteration: 1, changedFiles: [], passed: false }),
      ),
    ).toBe('  Deliverable check failed: no files changed in the workspace');
  });

  it('prints the exact decide command when a human decision is awaited', () => {
    const s = createProgress(ID);
    const line = lineAfter(s, ev({ type: 'decision.requested', iteration: 3 }));
    expect(line).toContain('Awaiting a human decision on iteration 3');
    expect(line).toContain(`cfn swarms decide ${ID} PROCEED|ITERATE|ABORT`);
    expect(s.awaitingDecision).toBe(true);
    expect(
      lineAfter(
        s,
        ev({
          type: 'decision.made',
          iteration: 3,
          decision: 'ITERATE',
          rationale: 'more tests',
          by: 'human',
        }),
      ),
    ).toBe('  Decision: ITERATE (by human): more tests');
    expect(s.awaitingDecision).toBe(false);
  });

  it('reports playbook hints, cancellation and the end; stays quiet on bookkeeping', () => {
    const s = createProgress(ID);
    expect(
      lineAfter(
        s,
        ev({
          type: 'playbook.matched',
          entryId: 'e',
          objective: 'o',
          hint: 'use the helper',
          rank: 1,
        }),
      ),
    ).toBe('Playbook hint from a similar past swarm: use the helper');
    expect(lineAfter(s, ev({ type: 'swarm.cancel_requested', by: 'alice' }))).toBe(
      'Cancel requested by alice',
    );
    expect(lineAfter(s, ev({ type: 'retrospective.recorded', entryId: 'e' }))).toBeUndefined();
    expect(
      lineAfter(s, ev({ type: 'swarm.completed', status: 'exhausted', reason: 'no consensus' })),
    ).toBe('Swarm exhausted: no consensus');
    expect(s.completion).toEqual({ status: 'exhausted', reason: 'no consensus' });
  });
});

describe('statusLine', () => {
  it('shows iteration, phase, running tasks, tokens, cost and elapsed time', () => {
    const s = createProgress(ID);
    expect(statusLine(s, T0)).toBe('queued · 0 tokens · $0.0000');
    applyProgress(s, ev({ type: 'swarm.created', spec }, T0));
    applyProgress(s, ev({ type: 'iteration.started', iteration: 2, feedback: [] }, T0));
    for (const [id, agent] of [
      ['a', 'impl-a'],
      ['b', 'impl-b'],
      ['c', 'impl-c'],
      ['d', 'impl-d'],
    ] as const)
      applyProgress(s, sched(id, 'implement', { agent }));
    applyProgress(
      s,
      ev({
        type: 'task.succeeded',
        taskId: 'a',
        output: {},
        tokens: { input: 1000, output: 234 },
        costUsd: 0.0123,
      }),
    );
    expect(statusLine(s, T0 + 83_000)).toBe(
      'iteration 2/10 · implement · 3 running (impl-b, impl-c, impl-d) · 1,234 tokens · $0.0123 · 1m23s',
    );
  });

  it('says when a decision is awaited and freezes the clock at the end', () => {
    const s = createProgress(ID, { iteration: 1, startedAt: T0 });
    applyProgress(s, ev({ type: 'decision.requested', iteration: 1 }));
    expect(statusLine(s, T0 + 5000)).toBe(
      'iteration 1 · awaiting decision · 0 tokens · $0.0000 · 5s',
    );
    applyProgress(
      s,
      ev({ type: 'swarm.completed', status: 'completed', reason: 'done' }, T0 + 7000),
    );
    expect(statusLine(s, T0 + 60_000)).toBe('iteration 1 · completed · 0 tokens · $0.0000 · 7s');
  });
});

describe('summary and next steps', () => {
  it('names status, decision, reason, iterations, tokens, cost and elapsed time', () => {
    const text = summaryLines({
      id: ID,
      status: 'completed',
      decision: 'PROCEED',
      reason: 'consensus reached',
      iterations: 2,
      tokens: { input: 1500, output: 300 },
      costUsd: 1.5,
      elapsedMs: 3_700_000,
    });
    expect(text).toContain('Status:     completed (decision PROCEED)');
    expect(text).toContain('Reason:     consensus reached');
    expect(text).toContain('Iterations: 2');
    expect(text).toContain('Tokens:     1,800 (1,500 in / 300 out)');
    expect(text).toContain('Cost:       $1.50');
    expect(text).toContain('Elapsed:    1h01m');
  });

  it.each(['aborted', 'exhausted', 'failed', 'cancelled', 'budget_exceeded'])(
    'points to `cfn swarms show` after %s',
    (status) => {
      expect(nextStep(status, ID)).toContain(`cfn swarms show ${ID}`);
    },
  );

  it('formats durations and truncates long text', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59_400)).toBe('59s');
    expect(formatDuration(61_000)).toBe('1m01s');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(truncate('ab\ncd', 4)).toBe('ab …');
  });
});
