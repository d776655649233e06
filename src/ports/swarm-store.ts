// Persistence of swarms: the append-only event log (the durable record, with optimistic
// concurrency per swarm), its projections, the effect journal, budgets and the playbook.
import type { SwarmEvent, SwarmSpec, SwarmStatus } from '../domain/cfn/spec.js';
import type { SwarmState } from '../domain/cfn/state.js';

export interface StoredEvent {
  swarmId: string;
  seq: number;
  type: SwarmEvent['type'];
  data: SwarmEvent;
  at: Date;
}

export interface SwarmRecord {
  id: string;
  objective: string;
  strategy: string;
  mode: string;
  status: SwarmStatus;
  spec: SwarmSpec;
  iteration: number;
  decision: string | null;
  reason: string | null;
  lastSeq: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  playbookEntryId: string | null;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

/** Another writer appended first; reload and decide again. */
export class ConcurrentAppendError extends Error {
  constructor(
    readonly swarmId: string,
    readonly expectedSeq: number,
  ) {
    super(`swarm ${swarmId} moved past seq ${expectedSeq}`);
    this.name = 'ConcurrentAppendError';
  }
}

export interface JournalEntry {
  key: string;
  swarmId: string;
  taskId: string;
  kind: 'llm' | 'tool' | 'command';
  requestHash: string;
  response: Record<string, unknown>;
  provider?: string | null;
  model?: string | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  durationMs: number;
}

export interface PlaybookEntry {
  id: string;
  swarmId: string;
  objective: string;
  taskClass: string;
  strategy: string;
  mode: string;
  agents: string[];
  iterations: number;
  outcome: string;
  gateScore: number | null;
  consensusScore: number | null;
  costUsd: number;
  lessons: string;
  createdAt?: Date;
}

export interface SwarmListQuery {
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string | undefined;
  status?: SwarmStatus | undefined;
  strategy?: string | undefined;
}

export interface TaskRecord {
  taskId: string;
  iteration: number;
  phase: string;
  slot: number;
  attempt: number;
  agent: string | null;
  status: string;
  output: Record<string, unknown> | null;
  error: string | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  worker: string | null;
  scheduledAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface SwarmStore {
  /** Inserts the swarm and its first event (swarm.created) in one transaction. */
  create(input: {
    id: string;
    spec: SwarmSpec;
    createdBy: string | null;
    requestId: string | null;
  }): Promise<StoredEvent>;
  /**
   * Appends events after `expectedSeq` and updates the projections from `state` (the fold after
   * these events), atomically, with `journal` entries in the same transaction. Throws
   * ConcurrentAppendError when the log moved on. Concurrent appends may share one transaction.
   */
  append(
    swarmId: string,
    expectedSeq: number,
    events: SwarmEvent[],
    state: SwarmState,
    options?: { requestId?: string | null; journal?: JournalEntry[] },
  ): Promise<void>;
  events(swarmId: string, afterSeq?: number, limit?: number): Promise<StoredEvent[]>;
  get(id: string): Promise<SwarmRecord | undefined>;
  list(query: SwarmListQuery): Promise<{ items: SwarmRecord[]; nextCursor: string | null }>;
  tasks(swarmId: string): Promise<TaskRecord[]>;
  /** Ids of swarms not in a terminal status (recovery after a restart). */
  unfinished(): Promise<string[]>;

  /** Reserves budget for a call; false when it would exceed the swarm's limits. */
  reserveBudget(swarmId: string, tokens: number, usd: number): Promise<boolean>;
  releaseBudget(swarmId: string, tokens: number, usd: number): Promise<void>;
  /** Adds to the reservation unconditionally: usage of finished calls not yet in the swarm's totals. */
  holdBudget(swarmId: string, tokens: number, usd: number): Promise<void>;
  /** Drops every reservation of these swarms (no call of theirs is in flight after a restart). */
  clearReservations(swarmIds: string[]): Promise<void>;
  /** Finished swarms with a webhook whose delivery neither succeeded nor gave up. */
  pendingWebhooks(maxAttempts: number): Promise<string[]>;

  journalGet(key: string): Promise<JournalEntry | undefined>;
  /** Records a completed effect; a second put of the same key keeps the first. */
  journalPut(entry: JournalEntry): Promise<void>;

  saveSnapshot(swarmId: string, iteration: number, files: Record<string, string>): Promise<void>;
  loadSnapshot(swarmId: string, iteration: number): Promise<Record<string, string> | undefined>;

  addPlaybookEntry(entry: PlaybookEntry): Promise<void>;
  /** Most similar earlier entries by full-text search over objectives, best first. */
  searchPlaybook(
    objective: string,
    limit: number,
  ): Promise<Array<PlaybookEntry & { rank: number }>>;

  /** Agent tasks running now, across the deployment. */
  countRunningTasks(): Promise<number>;
  /** Finished agent tasks since `since`, by outcome. */
  taskOutcomesSince(since: Date): Promise<{ succeeded: number; failed: number }>;

  recordWebhookDelivery(d: {
    swarmId: string;
    url: string;
    event: string;
    attempt: number;
    statusCode: number | null;
    error: string | null;
    durationMs: number;
  }): Promise<void>;
}
