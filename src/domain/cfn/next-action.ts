// The CFN Loop as a pure decision: given a swarm's state, what happens next. The engine carries
// the action out and appends the resulting events; nothing here does I/O.
import type { Decision } from './modes.js';
import {
  coordinatorPrompt,
  implementerPrompt,
  productOwnerPrompt,
  validatorPrompt,
  type ImplementerResult,
} from './prompts.js';
import type { Phase, SwarmEvent, SwarmSpec, SwarmStatus, TaskSpec } from './spec.js';
import {
  currentIteration,
  latestBySlot,
  type IterationState,
  type SwarmState,
  type TaskState,
} from './state.js';

export type Action =
  | { kind: 'none' }
  | { kind: 'wait'; reason: string }
  | { kind: 'append'; events: SwarmEvent[] }
  | { kind: 'schedule'; tasks: TaskSpec[] }
  | { kind: 'start-iteration'; iteration: number; feedback: string[] }
  | { kind: 'check-deliverable'; iteration: number }
  | { kind: 'finish'; status: SwarmStatus; reason: string; retrospective: boolean };

const MAX_FEEDBACK_CHARS = 2000;
const clip = (s: string) =>
  s.length > MAX_FEEDBACK_CHARS ? `${s.slice(0, MAX_FEEDBACK_CHARS)}…` : s;

export function taskId(iteration: number, phase: Phase, slot: number, attempt: number): string {
  return `i${iteration}.${phase}.${slot}.a${attempt}`;
}

interface SlotPlan {
  slot: number;
  agent?: string | undefined;
  command?: string | undefined;
  commandTimeoutMs?: number | undefined;
  /** Built lazily: sequential prompts depend on earlier slots' results. */
  prompt?: () => string;
}

function settled(t: TaskState, spec: SwarmSpec, state: SwarmState): boolean {
  if (t.status === 'succeeded') return true;
  if (t.status !== 'failed') return false;
  const canRetry = t.retryable === true && t.attempt < spec.maxAttempts && !state.budgetExceeded;
  return !canRetry;
}

/** Schedules what a phase still needs; 'settled' once every slot has a final outcome. */
function runPhase(
  state: SwarmState,
  it: IterationState,
  phase: Phase,
  slots: SlotPlan[],
  chained = false,
): Action | 'settled' {
  const latest = latestBySlot(it, phase);
  const toSchedule: TaskSpec[] = [];
  let inFlight = false;
  const schedule = (plan: SlotPlan, attempt: number) =>
    toSchedule.push({
      taskId: taskId(it.n, phase, plan.slot, attempt),
      iteration: it.n,
      phase,
      slot: plan.slot,
      attempt,
      agent: plan.agent,
      command: plan.command,
      commandTimeoutMs: plan.commandTimeoutMs,
      prompt: plan.prompt?.(),
    });
  for (const plan of slots) {
    const t = latest.get(plan.slot);
    if (!t) schedule(plan, 1);
    else if (t.status === 'scheduled' || t.status === 'running') inFlight = true;
    else if (!settled(t, state.spec, state)) schedule(plan, t.attempt + 1);
    else if (chained && t.status === 'failed')
      break; // a broken chain stops here
    else continue;
    if (chained) break; // one link at a time
  }
  if (toSchedule.length) return { kind: 'schedule', tasks: toSchedule };
  if (inFlight) return { kind: 'wait', reason: `${phase} tasks in flight` };
  return 'settled';
}

function implementerResults(
  it: IterationState,
  slotAgents: Array<string | undefined>,
): ImplementerResult[] {
  const latest = latestBySlot(it, 'implement');
  return slotAgents.map((agent, slot) => {
    const t = latest.get(slot);
    if (t?.status === 'succeeded') {
      return {
        agent: agent ?? 'agent',
        ok: true,
        confidence: Number(t.output?.confidence ?? 0),
        summary: String(t.output?.summary ?? ''),
      };
    }
    return { agent: agent ?? 'agent', ok: false, summary: t?.reason ?? 'not run' };
  });
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

/** Implement-phase slots for the swarm's strategy (hierarchical: from the coordinator's plan). */
function implementPlans(
  state: SwarmState,
  it: IterationState,
): SlotPlan[] | { failed: string } | 'pending' {
  const { spec } = state;
  const base = {
    iteration: it.n,
    maxIterations: spec.maxIterations,
    feedback: it.feedback,
    playbookHint: state.playbook?.hint,
  };
  if (spec.strategy === 'hierarchical') {
    const coord = latestBySlot(it, 'coordinate').get(0);
    if (!coord || !settled(coord, spec, state)) return 'pending';
    if (coord.status === 'failed') return { failed: `the coordinator failed: ${coord.reason}` };
    const subtasks = (coord.output?.subtasks ?? []) as Array<{
      title: string;
      instructions: string;
      agent?: string;
    }>;
    return subtasks.map((st, slot) => {
      const agent =
        st.agent && spec.agents.includes(st.agent)
          ? st.agent
          : spec.agents[slot % spec.agents.length];
      return { slot, agent, prompt: () => implementerPrompt(spec, { ...base, subtask: st }) };
    });
  }
  if (spec.strategy === 'sequential') {
    return spec.agents.map((agent, slot) => ({
      slot,
      agent,
      prompt: () => {
        const latest = latestBySlot(it, 'implement');
        const previous = spec.agents.slice(0, slot).map((a, i) => ({
          agent: a,
          summary: String(latest.get(i)?.output?.summary ?? ''),
        }));
        return implementerPrompt(spec, { ...base, previous });
      },
    }));
  }
  const prompt = () => implementerPrompt(spec, base);
  return spec.agents.map((agent, slot) => ({ slot, agent, prompt }));
}

function iterateOrExhaust(state: SwarmState, it: IterationState, feedback: string[]): Action {
  if (it.n < state.spec.maxIterations) {
    return { kind: 'start-iteration', iteration: it.n + 1, feedback: feedback.map(clip) };
  }
  return {
    kind: 'finish',
    status: 'exhausted',
    reason: `no PROCEED after ${state.spec.maxIterations} iteration(s)`,
    retrospective: true,
  };
}

function validatorFeedback(state: SwarmState, it: IterationState): string[] {
  const latest = latestBySlot(it, 'validate');
  return state.spec.validators.map((v, slot) => {
    const who = v.kind === 'agent' ? v.agent : `\`${v.command}\``;
    const t = latest.get(slot);
    if (t?.status === 'succeeded')
      return `${who}: ${String(t.output?.feedback ?? '') || `score ${t.output?.score}`}`;
    return `${who}: failed (${t?.reason ?? 'not run'})`;
  });
}

function policyDecision(
  state: SwarmState,
  it: IterationState,
): { decision: Decision; rationale: string } {
  if (it.consensus) {
    return it.consensus.passed
      ? {
          decision: 'PROCEED',
          rationale: `consensus ${it.consensus.score.toFixed(3)} ≥ ${it.consensus.threshold}`,
        }
      : {
          decision: 'ITERATE',
          rationale: `consensus ${it.consensus.score.toFixed(3)} < ${it.consensus.threshold}`,
        };
  }
  // No validators: the implementers' own results decide.
  const impl = [...latestBySlot(it, 'implement').values()];
  const allOk = impl.length > 0 && impl.every((t) => t.status === 'succeeded');
  if (state.spec.strategy === 'cfn-loop') {
    return it.gate?.passed && allOk
      ? { decision: 'PROCEED', rationale: 'gate passed and no validators configured' }
      : { decision: 'ITERATE', rationale: 'gate not passed or an implementer failed' };
  }
  return allOk
    ? { decision: 'PROCEED', rationale: 'every agent succeeded' }
    : { decision: 'ITERATE', rationale: 'an agent failed' };
}

export function nextAction(state: SwarmState): Action {
  const { spec } = state;
  if (state.completion) return { kind: 'none' };
  if (state.cancelRequested) {
    return {
      kind: 'finish',
      status: 'cancelled',
      reason: `cancelled by ${state.cancelRequested.by}`,
      retrospective: false,
    };
  }
  if (state.budgetExceeded) {
    // A call already under way was granted within the budget, and the provider bills it: its
    // usage is waited for, so the swarm's totals say what was spent. Nothing new is started.
    if (state.iterations.some((i) => i.tasks.some((t) => t.status === 'running')))
      return { kind: 'wait', reason: 'calls in flight end within the budget' };
    return {
      kind: 'finish',
      status: 'budget_exceeded',
      reason: state.budgetExceeded,
      retrospective: false,
    };
  }
  const it = currentIteration(state);
  if (!it) return { kind: 'start-iteration', iteration: 1, feedback: [] };

  // Hierarchical: the coordinator plans the iteration first.
  if (spec.strategy === 'hierarchical') {
    const r = runPhase(state, it, 'coordinate', [
      {
        slot: 0,
        agent: spec.coordinator,
        prompt: () => coordinatorPrompt(spec, spec.agents, it.feedback),
      },
    ]);
    if (r !== 'settled') return r;
  }

  // Loop 3: implementers.
  const plans = implementPlans(state, it);
  if (plans === 'pending') return { kind: 'wait', reason: 'coordinator in flight' };
  if ('failed' in plans)
    return { kind: 'finish', status: 'failed', reason: plans.failed, retrospective: true };
  const impl = runPhase(state, it, 'implement', plans, spec.strategy === 'sequential');
  if (impl !== 'settled') return impl;
  const slotAgents = plans.map((p) => p.agent);

  // The confidence gate (cfn-loop).
  if (spec.strategy === 'cfn-loop') {
    if (!it.gate) {
      const results = implementerResults(it, slotAgents);
      const score = mean(results.map((r) => (r.ok ? (r.confidence ?? 0) : 0)));
      return {
        kind: 'append',
        events: [
          {
            type: 'gate.evaluated',
            iteration: it.n,
            score,
            threshold: spec.gate,
            passed: score >= spec.gate,
          },
        ],
      };
    }
    if (!it.gate.passed) {
      const failures = implementerResults(it, slotAgents)
        .filter((r) => !r.ok || (r.confidence ?? 0) < spec.gate)
        .map((r) =>
          r.ok
            ? `${r.agent} reported confidence ${r.confidence}: ${r.summary}`
            : `${r.agent} failed: ${r.summary}`,
        );
      return iterateOrExhaust(state, it, [
        `Confidence gate failed: mean confidence ${it.gate.score.toFixed(3)} is below ${it.gate.threshold}.`,
        ...failures,
      ]);
    }
  }

  // Deliverable check for workspace runs.
  if (spec.workspace) {
    if (!it.deliverable) return { kind: 'check-deliverable', iteration: it.n };
    if (!it.deliverable.passed) {
      return iterateOrExhaust(state, it, [
        'No file changed in the workspace during this iteration: write the deliverable into files with write_file.',
      ]);
    }
  }

  // Loop 2: validators, then consensus.
  if (spec.validators.length) {
    const results = implementerResults(it, slotAgents);
    const val = runPhase(
      state,
      it,
      'validate',
      spec.validators.map((v, slot) =>
        v.kind === 'agent'
          ? {
              slot,
              agent: v.agent,
              prompt: () => validatorPrompt(spec, it.n, results, it.deliverable?.changedFiles),
            }
          : { slot, command: v.command, commandTimeoutMs: v.timeoutMs },
      ),
    );
    if (val !== 'settled') return val;
    if (!it.consensus) {
      const latest = latestBySlot(it, 'validate');
      const scores = spec.validators.map((_, slot) => {
        const t = latest.get(slot);
        return t?.status === 'succeeded' ? Number(t.output?.score ?? 0) : 0;
      });
      const score = mean(scores);
      return {
        kind: 'append',
        events: [
          {
            type: 'consensus.evaluated',
            iteration: it.n,
            score,
            threshold: spec.consensus,
            passed: score >= spec.consensus,
          },
        ],
      };
    }
  }

  // The product owner: a human, an agent, or the policy.
  if (!it.decision) {
    if (spec.approval === 'human') {
      return it.decisionRequested
        ? { kind: 'wait', reason: 'awaiting a human decision' }
        : { kind: 'append', events: [{ type: 'decision.requested', iteration: it.n }] };
    }
    if (spec.productOwner) {
      const po = runPhase(state, it, 'decide', [
        {
          slot: 0,
          agent: spec.productOwner,
          prompt: () =>
            productOwnerPrompt(spec, {
              iteration: it.n,
              implementers: implementerResults(it, slotAgents),
              maxIterations: spec.maxIterations,
              gate: it.gate,
              consensus: it.consensus,
              validatorFeedback: validatorFeedback(state, it),
            }),
        },
      ]);
      if (po !== 'settled') return po;
      const t = latestBySlot(it, 'decide').get(0);
      if (t?.status === 'succeeded') {
        return {
          kind: 'append',
          events: [
            {
              type: 'decision.made',
              iteration: it.n,
              decision: t.output?.decision as Decision,
              rationale: String(t.output?.rationale ?? ''),
              by: 'agent',
            },
          ],
        };
      }
      const p = policyDecision(state, it);
      return {
        kind: 'append',
        events: [
          {
            type: 'decision.made',
            iteration: it.n,
            decision: p.decision,
            rationale: `product owner failed (${t?.reason ?? 'no answer'}); policy: ${p.rationale}`,
            by: 'policy',
          },
        ],
      };
    }
    const p = policyDecision(state, it);
    return {
      kind: 'append',
      events: [{ type: 'decision.made', iteration: it.n, ...p, by: 'policy' }],
    };
  }

  switch (it.decision.decision) {
    case 'PROCEED':
      return {
        kind: 'finish',
        status: 'completed',
        reason: it.decision.rationale || 'PROCEED',
        retrospective: true,
      };
    case 'ABORT':
      return {
        kind: 'finish',
        status: 'aborted',
        reason: it.decision.rationale || 'ABORT',
        retrospective: true,
      };
    case 'ITERATE': {
      const feedback = spec.validators.length ? validatorFeedback(state, it) : [];
      if (it.decision.by !== 'policy' && it.decision.rationale) {
        feedback.push(`Product owner: ${it.decision.rationale}`);
      }
      if (!feedback.length)
        feedback.push(`Previous iteration was not accepted: ${it.decision.rationale}`);
      return iterateOrExhaust(state, it, feedback);
    }
  }
}
