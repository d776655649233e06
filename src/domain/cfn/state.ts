// A swarm's state is a fold over its events: the durable record is the event log, and this is the
// only interpretation of it (the engine, the API and the metrics all read state through here).
import type { Decision } from './modes.js';
import type { Phase, SwarmEvent, SwarmSpec, SwarmStatus, TaskSpec, TokenCount } from './spec.js';

export type TaskStatus = 'scheduled' | 'running' | 'succeeded' | 'failed';

export interface TaskState extends TaskSpec {
  status: TaskStatus;
  output?: Record<string, unknown>;
  reason?: string;
  retryable?: boolean;
  tokens: TokenCount;
  costUsd: number;
}

export interface IterationState {
  n: number;
  feedback: string[];
  tasks: TaskState[];
  gate?: { score: number; threshold: number; passed: boolean };
  deliverable?: { changedFiles: string[]; passed: boolean };
  consensus?: { score: number; threshold: number; passed: boolean };
  decisionRequested: boolean;
  decision?: { decision: Decision; rationale: string; by: 'agent' | 'policy' | 'human' };
}

export interface SwarmState {
  spec: SwarmSpec;
  status: SwarmStatus;
  iterations: IterationState[];
  playbook?: { entryId: string; objective: string; hint: string; rank: number };
  cancelRequested?: { by: string };
  budgetExceeded?: string;
  retrospectiveEntryId?: string;
  completion?: { status: SwarmStatus; reason: string };
  tokens: TokenCount;
  costUsd: number;
  /** Number of events folded (the next event's sequence number is this + 1). */
  seq: number;
}

export function initialState(spec: SwarmSpec): SwarmState {
  return {
    spec,
    status: 'queued',
    iterations: [],
    tokens: { input: 0, output: 0 },
    costUsd: 0,
    seq: 1,
  };
}

/**
 * Each fold's tasks by id, beside the state rather than in it (the state stays plain data). Built
 * from the iterations the first time it is needed and kept up to date by `task.scheduled`, the
 * only event that adds a task; tasks are never removed or replaced, so an entry stays right.
 */
const taskIndex = new WeakMap<SwarmState, Map<string, TaskState>>();

function tasksById(state: SwarmState): Map<string, TaskState> {
  let index = taskIndex.get(state);
  if (!index) {
    index = new Map();
    for (const it of state.iterations) for (const t of it.tasks) index.set(t.taskId, t);
    taskIndex.set(state, index);
  }
  return index;
}

/** The task with this id, in whichever iteration it was scheduled. */
export function findTask(state: SwarmState, taskId: string): TaskState | undefined {
  return tasksById(state).get(taskId);
}

function iterationOf(state: SwarmState, n: number): IterationState | undefined {
  return state.iterations.find((i) => i.n === n);
}

/**
 * Applies one event to `state` in place (the fold owns its state; the engine keeps one per swarm
 * and applies new events as they are appended). Events after completion are kept in the log but
 * change only the token and cost totals.
 */
export function applyEvent(s: SwarmState, event: SwarmEvent): void {
  s.seq += 1;
  if (s.completion && event.type !== 'task.succeeded' && event.type !== 'task.failed') return;
  switch (event.type) {
    case 'swarm.created':
      s.spec = event.spec;
      return;
    case 'playbook.matched':
      s.playbook = {
        entryId: event.entryId,
        objective: event.objective,
        hint: event.hint,
        rank: event.rank,
      };
      return;
    case 'iteration.started':
      if (s.status === 'queued' || s.status === 'awaiting_decision') s.status = 'running';
      s.iterations.push({
        n: event.iteration,
        feedback: event.feedback,
        tasks: [],
        decisionRequested: false,
      });
      return;
    case 'task.scheduled': {
      const { type: _type, ...spec } = event;
      const it = iterationOf(s, event.iteration);
      const byId = tasksById(s);
      if (!it || byId.has(event.taskId)) return;
      const task: TaskState = {
        ...spec,
        status: 'scheduled',
        tokens: { input: 0, output: 0 },
        costUsd: 0,
      };
      it.tasks.push(task);
      byId.set(task.taskId, task);
      return;
    }
    case 'task.started': {
      const t = findTask(s, event.taskId);
      if (t && t.status === 'scheduled') t.status = 'running';
      return;
    }
    case 'task.succeeded':
    case 'task.failed': {
      s.tokens = {
        input: s.tokens.input + event.tokens.input,
        output: s.tokens.output + event.tokens.output,
      };
      s.costUsd += event.costUsd;
      const t = findTask(s, event.taskId);
      if (!t || t.status === 'succeeded' || t.status === 'failed') return;
      t.tokens = event.tokens;
      t.costUsd = event.costUsd;
      if (event.type === 'task.succeeded') {
        t.status = 'succeeded';
        t.output = event.output;
      } else {
        t.status = 'failed';
        t.reason = event.reason;
        t.retryable = event.retryable;
        // The first reason to stop wins: a budget exhausted before a cancel ends as budget_exceeded.
        if (event.budgetExceeded && !s.completion && !s.cancelRequested)
          s.budgetExceeded ??= event.reason;
      }
      return;
    }
    case 'tool.called':
      return;
    case 'gate.evaluated': {
      const it = iterationOf(s, event.iteration);
      if (it) it.gate = { score: event.score, threshold: event.threshold, passed: event.passed };
      return;
    }
    case 'deliverable.checked': {
      const it = iterationOf(s, event.iteration);
      if (it) it.deliverable = { changedFiles: event.changedFiles, passed: event.passed };
      return;
    }
    case 'consensus.evaluated': {
      const it = iterationOf(s, event.iteration);
      if (it)
        it.consensus = { score: event.score, threshold: event.threshold, passed: event.passed };
      return;
    }
    case 'decision.requested': {
      const it = iterationOf(s, event.iteration);
      if (it) it.decisionRequested = true;
      s.status = 'awaiting_decision';
      return;
    }
    case 'decision.made': {
      const it = iterationOf(s, event.iteration);
      if (it && !it.decision)
        it.decision = { decision: event.decision, rationale: event.rationale, by: event.by };
      s.status = 'running';
      return;
    }
    case 'swarm.cancel_requested':
      if (!s.budgetExceeded) s.cancelRequested ??= { by: event.by };
      return;
    case 'retrospective.recorded':
      s.retrospectiveEntryId = event.entryId;
      return;
    case 'swarm.completed':
      s.status = event.status;
      s.completion = { status: event.status, reason: event.reason };
      return;
  }
}

export function foldEvents(events: readonly SwarmEvent[]): SwarmState {
  const first = events[0];
  if (!first || first.type !== 'swarm.created')
    throw new Error('a swarm log starts with swarm.created');
  const state = initialState(structuredClone(first.spec));
  for (let i = 1; i < events.length; i++) applyEvent(state, events[i]!);
  return state;
}

export function currentIteration(state: SwarmState): IterationState | undefined {
  return state.iterations[state.iterations.length - 1];
}

/** The latest attempt of each slot of a phase, by slot. */
export function latestBySlot(it: IterationState, phase: Phase): Map<number, TaskState> {
  const m = new Map<number, TaskState>();
  for (const t of it.tasks) {
    if (t.phase !== phase) continue;
    const prev = m.get(t.slot);
    if (!prev || t.attempt > prev.attempt) m.set(t.slot, t);
  }
  return m;
}

/** Tasks currently scheduled or running (across all iterations). */
const isActive = (t: TaskState) => t.status === 'scheduled' || t.status === 'running';

export function activeTasks(state: SwarmState): TaskState[] {
  return state.iterations.flatMap((i) => i.tasks.filter(isActive));
}

/**
 * The facts that still apply to `state`: a task's outcome is dropped when the task already has one
 * (a second writer, or a job run twice, reporting it again), so applying an outcome is idempotent.
 */
export function unappliedFacts(state: SwarmState, facts: readonly SwarmEvent[]): SwarmEvent[] {
  const ended = new Set<string>();
  return facts.filter((e) => {
    if (e.type !== 'task.succeeded' && e.type !== 'task.failed') return true;
    const t = findTask(state, e.taskId);
    if (ended.has(e.taskId) || t?.status === 'succeeded' || t?.status === 'failed') return false;
    ended.add(e.taskId);
    return true;
  });
}

/** Whether any task is scheduled or running (the current iteration is looked at first). */
export function hasActiveTasks(state: SwarmState): boolean {
  for (let i = state.iterations.length - 1; i >= 0; i--)
    if (state.iterations[i]!.tasks.some(isActive)) return true;
  return false;
}
