// What the parts of the engine share: the dependencies, the folds of the swarms this process runs,
// their claims (leases), the effect journal and the primitives that read and append the log.
import { AppError } from '../domain/errors.js';
import type { SwarmEvent } from '../domain/cfn/spec.js';
import type { SwarmState } from '../domain/cfn/state.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Logger } from '../ports/logger.js';
import {
  ConcurrentAppendError,
  FencedAppendError,
  UnstorableError,
  type JournalEntry,
  type SwarmStore,
} from '../ports/swarm-store.js';
import type { TaskQueue } from '../ports/task-queue.js';
import type { Claims } from './claims.js';
import type { EffectJournal } from './effect-journal.js';
import type {
  AgentCatalog,
  EngineLimits,
  EngineObserver,
  ProviderResolver,
  WorkspaceAccess,
} from './ports.js';
import type { WebhookTransport } from '../ports/webhook-transport.js';

export interface SwarmEngineDeps {
  store: SwarmStore;
  queue: TaskQueue;
  bus: EventBus;
  agents: AgentCatalog;
  providers: ProviderResolver;
  pricing: (model: string, usage: { inputTokens: number; outputTokens: number }) => number;
  workspaces: WorkspaceAccess;
  logger: Logger;
  limits: EngineLimits;
  observer?: EngineObserver;
  /** This process, as recorded on the tasks it runs. */
  workerId: string;
  /**
   * Other processes run swarms too (distributed): a swarm runs where its `swarm.run` job is taken
   * and its lease claimed. Without it only this process opens the database: it runs every swarm
   * and takes their leases whatever their state (those of a previous start of it included).
   */
  shared?: boolean;
  /** How long a lease lasts without renewal (renewed every third of it). Default 30 s. */
  leaseMs?: number;
  webhooks: { transport: WebhookTransport; secret: string | undefined; baseDelayMs?: number };
}

export interface PersistOptions {
  journal?: JournalEntry[];
  /** The request asking (cancel, decision); default: the submitter's (the swarm's jobs work for it). */
  requestId?: string | null;
  /**
   * Made under this process's claim (the default: the engine's own steps): refused once the lease
   * is gone. False for facts from the API (cancellations, decisions), which any process may record.
   */
  fenced?: boolean;
}

export interface EngineContext {
  deps: SwarmEngineDeps;
  store: SwarmStore;
  queue: TaskQueue;
  bus: EventBus;
  logger: Logger;
  withLock: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
  claims: Claims;
  journal: EffectJournal;
  /** AbortControllers of the calls in flight here, by swarm: cancellation aborts them. */
  inFlight: Map<string, Set<AbortController>>;
  /** The swarm's state, caught up with the log (the fold is kept while this process runs it). */
  load(swarmId: string): Promise<SwarmState>;
  /** Forgets the in-memory fold (it ran ahead of the log): the next load reads the log. */
  dropFold(swarmId: string): void;
  /** Folds `events` into `state` and appends them; false when another writer got there first. */
  commit(
    swarmId: string,
    state: SwarmState,
    events: SwarmEvent[],
    options?: PersistOptions,
  ): Promise<boolean>;
  /** Appends events already folded into `state` (which was at `expected` before them). */
  persist(
    swarmId: string,
    state: SwarmState,
    expected: number,
    events: SwarmEvent[],
    options?: PersistOptions,
  ): Promise<boolean>;
  enqueueRun(swarmId: string, delayMs?: number): Promise<void>;
  enqueueAdvance(swarmId: string): Promise<void>;
  enqueueTask(swarmId: string, taskId: string): Promise<void>;
  /** A log line's swarm fields: the swarm and the request that submitted it (correlation). */
  about(swarmId: string): { swarmId: string; requestId: string | null | undefined };
  halted(): boolean;
}

/**
 * This process may not work on the swarm any more (its claim is gone, or the engine is halted):
 * whatever was under way stops quietly; the swarm goes on where its lease is.
 */
export class WorkStoppedError extends Error {
  constructor(swarmId: string, why: string) {
    super(`swarm ${swarmId}: ${why}`);
    this.name = 'WorkStoppedError';
  }
}

/** Work given up on the swarm here: retrying it in this process is pointless. */
export const isStopped = (err: unknown) =>
  err instanceof WorkStoppedError || err instanceof FencedAppendError;

/**
 * A failure that may pass (a dependency away: the database restarting, a connection cut), as
 * opposed to a decision (a conflict, a refusal, a fenced write) or a bug in what was written.
 */
export function isTransient(err: unknown): boolean {
  return !(
    isStopped(err) ||
    err instanceof ConcurrentAppendError ||
    err instanceof UnstorableError ||
    err instanceof AppError ||
    err instanceof TypeError ||
    err instanceof RangeError
  );
}

/** Waits `ms` (doubling per attempt up to 2 s), or less when `signal` aborts. */
export function backoff(attempt: number, signal?: AbortSignal): Promise<void> {
  const ms = Math.min(2000, 100 * 2 ** attempt);
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
