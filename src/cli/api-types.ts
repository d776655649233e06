// The shapes the CLI reads from the service's JSON API (the views in src/http/routes), declared
// here so the CLI depends on the wire format, not on the server's modules.
import type { Decision } from '../domain/cfn/modes.js';
import type { Phase, SwarmEvent, SwarmSpec, SwarmStatus, TokenCount } from '../domain/cfn/spec.js';

export interface SwarmRecordView {
  id: string;
  objective: string;
  strategy: string;
  mode: string;
  status: SwarmStatus;
  iteration: number;
  decision: string | null;
  reason: string | null;
  tokens: TokenCount;
  costUsd: number;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export interface SwarmPage {
  items: SwarmRecordView[];
  nextCursor: string | null;
}

export interface TaskView {
  taskId: string;
  phase: Phase;
  slot: number;
  attempt: number;
  agent: string | null;
  command: string | null;
  status: 'scheduled' | 'running' | 'succeeded' | 'failed';
  output: Record<string, unknown> | null;
  reason: string | null;
  tokens: TokenCount;
  costUsd: number;
}

export interface Verdict {
  score: number;
  threshold: number;
  passed: boolean;
}

export interface IterationView {
  iteration: number;
  feedback: string[];
  gate: Verdict | null;
  deliverable: { changedFiles: string[]; passed: boolean } | null;
  consensus: Verdict | null;
  decision: { decision: Decision; rationale: string; by: string } | null;
  awaitingDecision: boolean;
  tasks: TaskView[];
}

export interface SwarmDetailView extends SwarmRecordView {
  iterations: IterationView[];
  playbook: { entryId: string; objective: string; hint: string; rank: number } | null;
  spec: SwarmSpec;
}

export interface AgentSummaryView {
  name: string;
  description: string;
  role: string;
  tools: string[];
  provider: string | null;
  model: string | null;
  source: string;
}

export interface AgentView extends AgentSummaryView {
  temperature: number | null;
  maxTokens: number | null;
  timeoutMs: number | null;
  systemPrompt: string;
}

/** One event of GET /api/swarms/:id/events: the domain event plus its sequence number and time. */
export type StreamEvent = SwarmEvent & { seq: number; at: string };
