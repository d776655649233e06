// A swarm's normalised specification, fixed at creation and carried in its first event.
import type { Decision, Mode, Strategy } from './modes.js';

export type ValidatorSpec =
  { kind: 'agent'; agent: string } | { kind: 'command'; command: string; timeoutMs: number };

export interface SwarmSpec {
  objective: string;
  strategy: Strategy;
  mode: Mode;
  /** Implementers (cfn-loop, parallel, sequential) or workers (hierarchical). */
  agents: string[];
  validators: ValidatorSpec[];
  /** A product-owner agent deciding after consensus (auto approval); absent: the policy decides. */
  productOwner?: string | undefined;
  /** The coordinator agent of the hierarchical strategy. */
  coordinator?: string | undefined;
  approval: 'auto' | 'human';
  /** Absolute real path of the workspace directory, when the swarm works on files. */
  workspace?: string | undefined;
  /** Its commands may reach the network (only when the operator allows it); absent: they may not. */
  network?: boolean | undefined;
  budget?: { maxTokens?: number | undefined; maxCostUsd?: number | undefined } | undefined;
  webhookUrl?: string | undefined;
  gate: number;
  consensus: number;
  maxIterations: number;
  /** Attempts per task for retryable failures (provider outages), at least 1. */
  maxAttempts: number;
  /** The request that submitted the swarm: its jobs and provider calls carry this id. */
  requestId?: string | undefined;
}

export type Phase = 'coordinate' | 'implement' | 'validate' | 'decide';

export interface TaskSpec {
  taskId: string;
  iteration: number;
  phase: Phase;
  slot: number;
  attempt: number;
  /** The agent to run, or undefined for a command validator. */
  agent?: string | undefined;
  command?: string | undefined;
  commandTimeoutMs?: number | undefined;
  /** The user message the agent receives (built by prompts.ts, fixed at scheduling). */
  prompt?: string | undefined;
}

export type SwarmStatus =
  | 'queued'
  | 'running'
  | 'awaiting_decision'
  | 'completed'
  | 'aborted'
  | 'exhausted'
  | 'failed'
  | 'cancelled'
  | 'budget_exceeded';

export const TERMINAL_STATUSES: readonly SwarmStatus[] = [
  'completed',
  'aborted',
  'exhausted',
  'failed',
  'cancelled',
  'budget_exceeded',
];

export function isTerminal(status: SwarmStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export interface TokenCount {
  input: number;
  output: number;
}

export type SwarmEvent =
  | { type: 'swarm.created'; spec: SwarmSpec }
  | { type: 'playbook.matched'; entryId: string; objective: string; hint: string; rank: number }
  | { type: 'iteration.started'; iteration: number; feedback: string[] }
  | ({ type: 'task.scheduled' } & TaskSpec)
  | { type: 'task.started'; taskId: string; worker: string }
  | {
      type: 'task.succeeded';
      taskId: string;
      output: Record<string, unknown>;
      tokens: TokenCount;
      costUsd: number;
    }
  | {
      type: 'task.failed';
      taskId: string;
      reason: string;
      retryable: boolean;
      budgetExceeded?: boolean;
      cancelled?: boolean;
      tokens: TokenCount;
      costUsd: number;
    }
  | { type: 'tool.called'; taskId: string; tool: string; ok: boolean; summary: string }
  | { type: 'gate.evaluated'; iteration: number; score: number; threshold: number; passed: boolean }
  | { type: 'deliverable.checked'; iteration: number; changedFiles: string[]; passed: boolean }
  | {
      type: 'consensus.evaluated';
      iteration: number;
      score: number;
      threshold: number;
      passed: boolean;
    }
  | { type: 'decision.requested'; iteration: number }
  | {
      type: 'decision.made';
      iteration: number;
      decision: Decision;
      rationale: string;
      by: 'agent' | 'policy' | 'human';
    }
  | { type: 'swarm.cancel_requested'; by: string }
  | { type: 'retrospective.recorded'; entryId: string }
  | { type: 'swarm.completed'; status: SwarmStatus; reason: string };

export type SwarmEventType = SwarmEvent['type'];
