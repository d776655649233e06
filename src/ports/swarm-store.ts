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
  /** The Idempotency-Key it was submitted with, if any. */
  idempotencyKey?: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

/** A swarm as a listing shows it: the record without its spec (which only a single swarm shows). */
export type SwarmSummary = Omit<SwarmRecord, 'spec'>;

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

/**
 * The append was made under a lease that is no longer the swarm's (another process claimed it, or
 * a restore cleared it): this process must stop working on the swarm.
 */
export class FencedAppendError extends Error {
  constructor(readonly swarmId: string) {
    super(`swarm ${swarmId}: this process no longer holds its lease`);
    this.name = 'FencedAppendError';
  }
}

/** The database refused the values themselves (not the connection): retrying cannot help. */
export class UnstorableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnstorableError';
  }
}

/** The right to be a swarm's only writer: appends made under it carry it, and are fenced by it. */
export interface Lease {
  epoch: number;
  owner: string;
}

/**
 * A submission under an idempotency key its creator already used: no swarm was created; this is
 * the one the key made, with the request hash it was made with.
 */
export class ExistingSubmissionError extends Error {
  constructor(
    readonly existing: SwarmRecord,
    readonly requestHash: string | null,
  ) {
    super(`swarm ${existing.id} was already submitted with this idempotency key`);
    this.name = 'ExistingSubmissionError';
  }
}

/** A client's key for retrying one submission, and the hash of the request it was sent with. */
export interface Idempotency {
  key: string;
  hash: string;
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

export interface CallReservation {
  inputTokens: number;
  inputUsd: number;
  maxOutputTokens: number;
  minOutputTokens: number;
  usdPerOutputToken: number;
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
  /**
   * Inserts the swarm and its first event (swarm.created) in one transaction. With
   * `idempotency`, when `createdBy` already made a swarm under that key nothing is written and
   * ExistingSubmissionError carries that swarm; of concurrent calls with one key, one creates.
   * Returns the first event and the swarm as stored.
   */
  create(input: {
    id: string;
    spec: SwarmSpec;
    createdBy: string | null;
    requestId: string | null;
    /** The creating process runs the swarm: it holds the lease (epoch 1) from the start. */
    lease?: { owner: string; ttlMs: number };
    idempotency?: Idempotency | undefined;
  }): Promise<StoredEvent & { record: SwarmRecord }>;
  /**
   * Appends events after `expectedSeq` and updates the projections from `state` (the fold after
   * these events), atomically, with `journal` entries in the same transaction. Throws
   * ConcurrentAppendError when the log moved on, FencedAppendError when `lease` is no longer the
   * swarm's (appends without one are facts from the API: cancellations, decisions) and
   * UnstorableError when the values cannot be stored. Concurrent appends may share one transaction.
   */
  append(
    swarmId: string,
    expectedSeq: number,
    events: SwarmEvent[],
    state: SwarmState,
    options?: { requestId?: string | null; journal?: JournalEntry[]; lease?: Lease },
  ): Promise<void>;

  /**
   * Takes the swarm's lease for `owner` with a new epoch when it is free, expired or already
   * `owner`'s (`force`: whatever its state; only for the profile where one process can open the
   * database). Otherwise says until when it is held. Undefined: no such swarm.
   */
  claimLease(
    swarmId: string,
    owner: string,
    ttlMs: number,
    force: boolean,
  ): Promise<{ lease: Lease } | { heldUntil: Date } | undefined>;
  /** Extends these leases of `owner`; returns the swarms whose lease it still held. */
  renewLeases(
    owner: string,
    leases: ReadonlyArray<{ swarmId: string; epoch: number }>,
    ttlMs: number,
  ): Promise<string[]>;
  /** Gives the lease up (a no-op when it is no longer this one). */
  releaseLease(swarmId: string, lease: Lease): Promise<void>;
  events(swarmId: string, afterSeq?: number, limit?: number): Promise<StoredEvent[]>;
  get(id: string): Promise<SwarmRecord | undefined>;
  list(query: SwarmListQuery): Promise<{ items: SwarmSummary[]; nextCursor: string | null }>;
  tasks(swarmId: string): Promise<TaskRecord[]>;
  /** Ids of swarms not in a terminal status (recovery after a restart). */
  unfinished(): Promise<string[]>;

  /**
   * Reserves budget for one call, atomically against the swarm's usage and other reservations:
   * its input (an upper bound) and as much of its output limit as the budget still allows. Returns
   * the output tokens granted, or 0 when not even `minOutputTokens` fit (nothing is reserved then).
   */
  reserveCall(swarmId: string, call: CallReservation): Promise<number>;
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

  /** The workspaces of swarms not in a terminal status (one workspace per swarm, unless shared). */
  workspacesInUse(): Promise<Array<{ swarmId: string; workspace: string }>>;
}
