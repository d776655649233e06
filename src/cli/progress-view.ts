// The live view of a swarm as pure functions: fold stream events into a small progress state, turn
// an event into the line a person reads, and draw the one-line status (no I/O, no clock reads).
import type { Phase, SwarmStatus, TokenCount } from '../domain/cfn/spec.js';
import type { StreamEvent } from './api-types.js';

export interface TaskProgress {
  phase: Phase;
  attempt: number;
  agent?: string | undefined;
  command?: string | undefined;
  status: 'scheduled' | 'running' | 'succeeded' | 'failed';
}

export interface ProgressState {
  swarmId: string;
  /** Server time (ms) the swarm was created, when known. */
  startedAt?: number | undefined;
  /** Server time (ms) of swarm.completed. */
  endedAt?: number | undefined;
  maxIterations?: number | undefined;
  /** Attempts per task (from the swarm's spec): a failure of the last one is not retried. */
  maxAttempts?: number | undefined;
  iteration: number;
  phase?: Phase | undefined;
  awaitingDecision: boolean;
  tasks: Map<string, TaskProgress>;
  tokens: TokenCount;
  costUsd: number;
  lastSeq: number;
  completion?: { status: SwarmStatus; reason: string } | undefined;
}

export function createProgress(
  swarmId: string,
  seed: Partial<Omit<ProgressState, 'swarmId' | 'tasks'>> = {},
): ProgressState {
  return {
    iteration: 0,
    awaitingDecision: false,
    tokens: { input: 0, output: 0 },
    costUsd: 0,
    lastSeq: 0,
    ...seed,
    swarmId,
    tasks: new Map(),
  };
}

/** Applies one event to `s` in place. */
export function applyProgress(s: ProgressState, ev: StreamEvent): void {
  s.lastSeq = Math.max(s.lastSeq, ev.seq);
  switch (ev.type) {
    case 'swarm.created':
      s.startedAt = Date.parse(ev.at);
      s.maxIterations = ev.spec.maxIterations;
      s.maxAttempts = ev.spec.maxAttempts;
      return;
    case 'iteration.started':
      s.iteration = ev.iteration;
      s.awaitingDecision = false;
      s.phase = undefined;
      return;
    case 'task.scheduled':
      s.phase = ev.phase;
      s.tasks.set(ev.taskId, {
        phase: ev.phase,
        attempt: ev.attempt,
        agent: ev.agent,
        command: ev.command,
        status: 'scheduled',
      });
      return;
    case 'task.started': {
      const t = s.tasks.get(ev.taskId);
      if (t && t.status === 'scheduled') t.status = 'running';
      return;
    }
    case 'task.succeeded':
    case 'task.failed': {
      s.tokens = {
        input: s.tokens.input + ev.tokens.input,
        output: s.tokens.output + ev.tokens.output,
      };
      s.costUsd += ev.costUsd;
      const t = s.tasks.get(ev.taskId);
      if (t) t.status = ev.type === 'task.succeeded' ? 'succeeded' : 'failed';
      return;
    }
    case 'decision.requested':
      s.awaitingDecision = true;
      return;
    case 'decision.made':
      s.awaitingDecision = false;
      return;
    case 'swarm.completed':
      s.completion = { status: ev.status, reason: ev.reason };
      s.endedAt = Date.parse(ev.at);
      return;
    default:
      return;
  }
}

const num = (v: unknown) => (typeof v === 'number' ? v.toFixed(2) : '?');

/** First line of `text`, cut to `max` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  const first = text.split('\n', 1)[0] ?? '';
  if (first.length > max) return `${first.slice(0, Math.max(0, max - 1))}…`;
  return first.length < text.trimEnd().length ? `${first} …` : first;
}

export function formatTokens(t: TokenCount): string {
  return `${(t.input + t.output).toLocaleString('en-US')} tokens`;
}

export function formatCost(usd: number): string {
  return `$${usd.toFixed(usd >= 1 ? 2 : 4)}`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Who ran a task: the agent name or the validator command. */
function actor(t: TaskProgress | undefined): string {
  if (!t) return 'task';
  const who = t.agent ?? (t.command ? `\`${truncate(t.command, 40)}\`` : 'task');
  return `${who} (${t.phase}${t.attempt > 1 ? `, attempt ${t.attempt}` : ''})`;
}

/** What a succeeded task produced, by phase: confidence, score, decision or plan. */
export function taskResult(phase: Phase | undefined, output: Record<string, unknown>): string {
  const text = (v: unknown) => (typeof v === 'string' && v.trim() ? truncate(v.trim(), 80) : '');
  const withNote = (head: string, note: string) => (note ? `${head}: ${note}` : head);
  switch (phase) {
    case 'implement':
      return withNote(`confidence ${num(output.confidence)}`, text(output.summary));
    case 'validate':
      return withNote(`score ${num(output.score)}`, text(output.feedback));
    case 'decide':
      return withNote(`decision ${String(output.decision)}`, text(output.rationale));
    case 'coordinate': {
      const n = Array.isArray(output.subtasks) ? output.subtasks.length : 0;
      return `planned ${n} subtask(s)`;
    }
    default:
      return 'done';
  }
}

const versus = (v: { score: number; threshold: number; passed: boolean }) =>
  `${v.score.toFixed(2)} ${v.passed ? '≥' : '<'} ${v.threshold.toFixed(2)}`;

/** The command a person runs to answer a swarm waiting for a human decision. */
export function decideCommand(swarmId: string): string {
  return `cfn swarms decide ${swarmId} PROCEED|ITERATE|ABORT [--feedback "..."]`;
}

/**
 * The line to print for an event, or undefined for bookkeeping events (scheduling, retrospective).
 * Pass the state after `applyProgress(s, ev)`: task lines look up the task's agent there.
 */
export function eventLine(ev: StreamEvent, s: ProgressState): string | undefined {
  switch (ev.type) {
    case 'swarm.created': {
      const sp = ev.spec;
      const validators = sp.validators.map((v) =>
        v.kind === 'agent' ? v.agent : `\`${truncate(v.command, 40)}\``,
      );
      return (
        `Swarm ${s.swarmId}: ${sp.strategy}, ${sp.mode} mode, agents ${sp.agents.join(', ')}` +
        (validators.length ? `, validators ${validators.join(', ')}` : '') +
        (sp.productOwner ? `, product owner ${sp.productOwner}` : '') +
        ` (gate ${sp.gate}, consensus ${sp.consensus}, up to ${sp.maxIterations} iterations` +
        `${sp.approval === 'human' ? ', human approval' : ''})`
      );
    }
    case 'playbook.matched':
      return `Playbook hint from a similar past swarm: ${truncate(ev.hint, 100)}`;
    case 'iteration.started':
      return (
        `Iteration ${ev.iteration}${s.maxIterations ? `/${s.maxIterations}` : ''} started` +
        (ev.feedback.length ? ` (addressing ${ev.feedback.length} feedback item(s))` : '')
      );
    case 'task.succeeded':
      return `  ✓ ${actor(s.tasks.get(ev.taskId))} ${taskResult(s.tasks.get(ev.taskId)?.phase, ev.output)}`;
    case 'task.failed':
      return (
        `  ✗ ${actor(s.tasks.get(ev.taskId))} failed: ${truncate(ev.reason, 120)}` +
        (ev.retryable && (s.tasks.get(ev.taskId)?.attempt ?? 1) < (s.maxAttempts ?? 2)
          ? ' (will retry)'
          : '')
      );
    case 'tool.called':
      return `    ${ev.ok ? '·' : '!'} ${ev.tool}: ${truncate(ev.summary, 80)}`;
    case 'gate.evaluated':
      return `  Gate ${ev.passed ? 'passed' : 'failed'}: mean confidence ${versus(ev)}`;
    case 'deliverable.checked': {
      const files = ev.changedFiles;
      const shown =
        files.slice(0, 3).join(', ') + (files.length > 3 ? `, +${files.length - 3}` : '');
      return ev.passed
        ? `  Deliverable check passed: ${files.length} file(s) changed (${shown})`
        : '  Deliverable check failed: no files changed in the workspace';
    }
    case 'consensus.evaluated':
      return `  Consensus ${ev.passed ? 'reached' : 'not reached'}: mean score ${versus(ev)}`;
    case 'decision.requested':
      return (
        `  Awaiting a human decision on iteration ${ev.iteration}. Run:\n` +
        `    ${decideCommand(s.swarmId)}`
      );
    case 'decision.made':
      return (
        `  Decision: ${ev.decision} (by ${ev.by})` +
        (ev.rationale.trim() ? `: ${truncate(ev.rationale.trim(), 100)}` : '')
      );
    case 'swarm.cancel_requested':
      return `Cancel requested by ${ev.by}`;
    case 'swarm.completed':
      return `Swarm ${ev.status}: ${ev.reason}`;
    default:
      return undefined;
  }
}

/** The status line redrawn in place on a terminal: iteration, phase, running tasks, cost, time. */
export function statusLine(s: ProgressState, nowMs: number): string {
  const parts: string[] = [];
  parts.push(
    s.iteration
      ? `iteration ${s.iteration}${s.maxIterations ? `/${s.maxIterations}` : ''}`
      : 'queued',
  );
  if (s.completion) parts.push(s.completion.status);
  else if (s.awaitingDecision) parts.push('awaiting decision');
  else if (s.phase) parts.push(s.phase);
  const running = [...s.tasks.values()].filter(
    (t) => t.status === 'scheduled' || t.status === 'running',
  );
  if (running.length && !s.completion) {
    const names = running.map((t) => t.agent ?? 'command');
    const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? `, +${names.length - 3}` : '');
    parts.push(`${running.length} running (${shown})`);
  }
  parts.push(formatTokens(s.tokens), formatCost(s.costUsd));
  if (s.startedAt !== undefined) parts.push(formatDuration((s.endedAt ?? nowMs) - s.startedAt));
  return parts.join(' · ');
}

export interface SwarmSummary {
  id: string;
  status: SwarmStatus | string;
  decision: string | null;
  reason: string | null;
  iterations: number;
  tokens: TokenCount;
  costUsd: number;
  elapsedMs: number | undefined;
}

export function summaryLines(sum: SwarmSummary): string {
  const rows: Array<[string, string]> = [
    ['Status', `${sum.status}${sum.decision ? ` (decision ${sum.decision})` : ''}`],
    ['Reason', sum.reason ?? '-'],
    ['Iterations', String(sum.iterations)],
    [
      'Tokens',
      `${(sum.tokens.input + sum.tokens.output).toLocaleString('en-US')} ` +
        `(${sum.tokens.input.toLocaleString('en-US')} in / ${sum.tokens.output.toLocaleString('en-US')} out)`,
    ],
    ['Cost', formatCost(sum.costUsd)],
    ['Elapsed', sum.elapsedMs === undefined ? '-' : formatDuration(sum.elapsedMs)],
  ];
  return (
    `\nSwarm ${sum.id} summary\n` +
    rows.map(([k, v]) => `  ${`${k}:`.padEnd(12)}${v}`).join('\n') +
    '\n'
  );
}

/** What to do after a swarm ended in something other than `completed`. */
export function nextStep(status: SwarmStatus | string, swarmId: string): string {
  const show = `\`cfn swarms show ${swarmId}\``;
  switch (status) {
    case 'aborted':
      return `Swarm ${swarmId} was aborted. The decision's rationale is in ${show}.`;
    case 'exhausted':
      return (
        `Swarm ${swarmId} used all its iterations without consensus. Read the validators' feedback ` +
        `with ${show}, then refine the objective or raise --max-iterations.`
      );
    case 'failed':
      return `Swarm ${swarmId} failed. ${show} shows which task failed and why.`;
    case 'cancelled':
      return `Swarm ${swarmId} was cancelled. Details: ${show}.`;
    case 'budget_exceeded':
      return (
        `Swarm ${swarmId} hit its budget. See ${show}, then run again with a larger ` +
        `--budget-usd or --budget-tokens.`
      );
    default:
      return `Swarm ${swarmId} ended ${status}. Details: ${show}.`;
  }
}
