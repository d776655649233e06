// Runs swarms: decides each next step from the durable event log (domain/cfn), carries it out,
// and persists the result before anything is acknowledged. A swarm runs in one process at a time,
// under a lease in the database that fences its appends (claims.ts): the process holding the
// swarm's `swarm.run` job claims it, runs its steps and agent tasks on its in-process queue until the
// swarm has to wait, and gives it up. Cancellations and decisions from the API are appended by any
// process (optimistic appends make the runner read them). Jobs may run twice: every handler reads
// the log and is idempotent, and a task's outcome is applied at most once.
import { randomUUID } from 'node:crypto';
import { AppError, NotFoundError } from '../domain/errors.js';
import type { Decision } from '../domain/cfn/modes.js';
import { isTerminal, type SwarmEvent, type SwarmSpec } from '../domain/cfn/spec.js';
import {
  activeTasks,
  applyEvent,
  foldEvents,
  hasActiveTasks,
  initialState,
  type SwarmState,
} from '../domain/cfn/state.js';
import {
  ConcurrentAppendError,
  FencedAppendError,
  type Idempotency,
  type SwarmRecord,
} from '../ports/swarm-store.js';
import { JobDeferredError, type JobFollowUp, type JobHandlers } from '../ports/task-queue.js';
import { createAgentRunner } from './agent-runner.js';
import { createClaims, type Claim } from './claims.js';
import { createEffectJournal } from './effect-journal.js';
import {
  WorkStoppedError,
  backoff,
  isStopped,
  isTransient,
  type EngineContext,
  type PersistOptions,
  type SwarmEngineDeps,
} from './engine-context.js';
import { createKeyedMutex } from './swarm-lock.js';
import { createSwarmSteps } from './swarm-steps.js';
import { createTaskExecution } from './task-execution.js';
import { createWebhookHandler } from './webhooks.js';

export type { SwarmEngineDeps } from './engine-context.js';

export interface SwarmEngine {
  /**
   * With `meta.idempotency`, a key the creator already submitted under makes no second swarm:
   * the store's ExistingSubmissionError (with the first swarm) goes to the caller, and nothing
   * more happens here.
   */
  submit(
    spec: SwarmSpec,
    meta: { createdBy: string | null; requestId: string | null; idempotency?: Idempotency },
  ): Promise<SwarmRecord>;
  /** `requestId`: the request asking (written on its event; the default is the submitter's). */
  cancel(id: string, by: string, requestId?: string | null): Promise<SwarmRecord>;
  decide(
    id: string,
    decision: Decision,
    rationale: string,
    by: string,
    requestId?: string | null,
  ): Promise<SwarmRecord>;
  state(id: string): Promise<SwarmState>;
  /**
   * Queues a run of every unfinished swarm (start-up after a crash; with a shared queue also now and
   * then, for jobs a Redis restart lost). Quiet: log at debug level only.
   */
  recover(options?: { quiet?: boolean }): Promise<number>;
  /**
   * Stops all swarm work in this process (a restore is about to replace the database): calls
   * are aborted and their tasks left open, nothing more is appended, in-memory state is dropped,
   * and jobs that start while halted do nothing. Resolves once nothing of the engine runs here.
   */
  halt(): Promise<void>;
  /** Ends a halt: every unfinished swarm is loaded again from the log (as after a restart). */
  resume(): Promise<void>;
  /** Stops renewing leases (after the queue has stopped and the runs have given theirs up). */
  stop(): void;
  handlers: JobHandlers;
}

const WEBHOOK_ATTEMPTS = 6;
/** How soon a run whose lease is held elsewhere (or could not be reached) tries again. */
const RETRY_RUN_MS = 1000;

export function createSwarmEngine(deps: SwarmEngineDeps): SwarmEngine {
  const { store, queue, bus, logger } = deps;
  const cache = new Map<string, SwarmState>();
  const withLock = createKeyedMutex();
  const inFlight = new Map<string, Set<AbortController>>();
  const journal = createEffectJournal(store, logger);
  /** Who holds this process's leases: unique to this start of it. */
  const owner = `${deps.workerId}:${randomUUID().slice(0, 8)}`;
  const leaseMs = deps.leaseMs ?? 30_000;
  const claims = createClaims({
    store,
    logger,
    owner,
    ttlMs: leaseMs,
    // Without other processes, a lease left by this process's previous start is taken at once.
    force: !deps.shared,
    onLost(claim, reason) {
      logger.warn({ ...about(claim.swarmId), reason: reason.message }, 'swarm lease lost');
      cache.delete(claim.swarmId);
      claim.wake();
    },
  });
  /**
   * The last append queued for each swarm while it is being written: a swarm's appends are
   * written in order, so once it has settled every earlier one has too.
   */
  const lastWrite = new Map<string, Promise<unknown>>();
  /** Set while the engine is halted (a restore): handlers return at once, nothing is written. */
  let halted = false;
  /** Handlers running now, and who waits for none to be. */
  let busy = 0;
  const idle: Array<() => void> = [];
  const tracked = async <T>(work: () => Promise<T>): Promise<T | void> => {
    if (halted) return;
    busy++;
    try {
      return await work();
    } finally {
      if (--busy === 0) for (const resolve of idle.splice(0)) resolve();
    }
  };

  bus.subscribe((m) => {
    if (m.kind !== 'cancel') return;
    for (const c of inFlight.get(m.swarmId) ?? []) c.abort(new Error('swarm cancelled'));
  });

  /** The swarm's state, caught up with the log (the cache is only a shortcut). */
  async function load(swarmId: string): Promise<SwarmState> {
    let state = cache.get(swarmId);
    if (!state) {
      const all = await store.events(swarmId, 0, 1_000_000);
      if (!all.length) throw new NotFoundError('swarm', swarmId);
      state = foldEvents(all.map((e) => e.data));
      if (claims.get(swarmId)) cache.set(swarmId, state);
      return state;
    }
    // Run here: only this process appends to the swarm (apart from cancellations and decisions,
    // whose appends make ours fail and the fold be read again), so the cached fold is the log.
    if (claims.get(swarmId)) return state;
    for (;;) {
      const more = await store.events(swarmId, state.seq, 10_000);
      for (const e of more) applyEvent(state, e.data);
      if (more.length < 10_000) return state;
    }
  }

  async function persist(
    swarmId: string,
    state: SwarmState,
    expected: number,
    events: SwarmEvent[],
    options: PersistOptions = {},
  ): Promise<boolean> {
    if (halted) throw new WorkStoppedError(swarmId, 'the engine is halted');
    const claim = options.fenced === false ? undefined : claims.get(swarmId);
    if (options.fenced !== false && !claim) {
      cache.delete(swarmId);
      throw new WorkStoppedError(swarmId, 'its lease is not held here');
    }
    const write = store.append(swarmId, expected, events, state, {
      requestId: options.requestId ?? state.spec.requestId ?? null,
      ...(options.journal?.length ? { journal: options.journal } : {}),
      ...(claim ? { lease: claim.lease } : {}),
    });
    lastWrite.set(swarmId, write);
    try {
      await write;
    } catch (err) {
      cache.delete(swarmId); // the in-memory fold ran ahead of the log: rebuild it
      if (err instanceof ConcurrentAppendError) return false;
      if (err instanceof FencedAppendError) claims.lose(swarmId, err);
      throw err;
    } finally {
      if (lastWrite.get(swarmId) === write) lastWrite.delete(swarmId);
    }
    deps.observer?.eventsCommitted?.(state, events);
    // Live signals are a shortcut (streams also read the log on their heartbeat): a bus that is
    // away must not fail a write that is durable.
    bus.publish({ kind: 'events', swarmId, lastSeq: state.seq }).catch((err: unknown) => {
      logger.debug({ err, swarmId }, 'new-events signal not sent');
    });
    return true;
  }

  async function commit(
    swarmId: string,
    state: SwarmState,
    events: SwarmEvent[],
    options?: PersistOptions,
  ): Promise<boolean> {
    const expected = state.seq;
    for (const e of events) applyEvent(state, e);
    return persist(swarmId, state, expected, events, options);
  }

  /** Records facts (they hold whatever else happened meanwhile): retried on concurrent appends. */
  async function record(swarmId: string, events: SwarmEvent[], options?: PersistOptions) {
    for (let i = 0; i < 50; i++) {
      const ok = await withLock(swarmId, async () =>
        commit(swarmId, await load(swarmId), events, options),
      );
      if (ok) return;
    }
    throw new Error(`could not append to swarm ${swarmId}: too much contention`);
  }

  /** Hands the swarm to whichever process takes its `swarm.run` job. */
  const enqueueRun = (swarmId: string, delayMs?: number) =>
    queue.enqueue(
      'swarm.run',
      { swarmId },
      { group: swarmId, jobId: `run:${swarmId}`, ...(delayMs ? { delayMs } : {}) },
    );
  const enqueueAdvance = (swarmId: string) =>
    claims.get(swarmId)
      ? queue.enqueue('swarm.advance', { swarmId }, { group: swarmId, jobId: `advance:${swarmId}` })
      : enqueueRun(swarmId);
  const enqueueTask = (swarmId: string, taskId: string) =>
    claims.get(swarmId)
      ? queue.enqueue(
          'agent.run',
          { swarmId, taskId },
          { group: swarmId, jobId: `task:${swarmId}:${taskId}` },
        )
      : enqueueRun(swarmId);

  /**
   * After a write the caller is told about: the write is durable, so a queue that cannot take the
   * job now (Redis away) must not turn it into an error; the periodic recovery queues it later.
   */
  async function enqueueAfterCommit(swarmId: string): Promise<void> {
    try {
      await enqueueAdvance(swarmId);
    } catch (err) {
      logger.warn(
        { err, ...about(swarmId) },
        'swarm saved; its next step waits until the queue answers',
      );
    }
  }

  /** A log line's swarm fields: the swarm and the request that submitted it (correlation). */
  const about = (swarmId: string) => ({ swarmId, requestId: cache.get(swarmId)?.spec.requestId });

  const ctx: EngineContext = {
    deps,
    store,
    queue,
    bus,
    logger,
    withLock,
    claims,
    journal,
    inFlight,
    load,
    dropFold: (swarmId) => cache.delete(swarmId),
    commit,
    persist,
    enqueueRun,
    enqueueAdvance,
    enqueueTask,
    about,
    halted: () => halted,
  };
  const { advance } = createSwarmSteps(ctx);
  const runner = createAgentRunner({
    store,
    journal,
    agents: deps.agents,
    providers: deps.providers,
    pricing: deps.pricing,
    workspaces: deps.workspaces,
    limits: deps.limits,
    ...(deps.observer ? { observer: deps.observer } : {}),
    record: (swarmId, events) => record(swarmId, events),
  });
  const { runTask } = createTaskExecution(ctx, runner, advance);

  /** Appends the events `decide` derives from the current state (a fact from the API). */
  async function decideAndRecord(
    swarmId: string,
    decide: (s: SwarmState) => SwarmEvent[],
    requestId: string | null | undefined,
  ) {
    for (let i = 0; i < 50; i++) {
      const ok = await withLock(swarmId, async () => {
        const state = await load(swarmId);
        return commit(swarmId, state, decide(state), { requestId, fenced: false });
      });
      if (ok) return;
    }
    throw new Error(`could not append to swarm ${swarmId}: too much contention`);
  }

  /** The claim a run works under: one taken with the swarm's creation, or its lease claimed now. */
  async function claimFor(swarmId: string): Promise<Claim | undefined> {
    const adopted = claims.get(swarmId);
    if (adopted) return adopted;
    let got;
    try {
      got = await claims.acquire(swarmId);
    } catch (err) {
      if (!isTransient(err)) throw err;
      throw new JobDeferredError(
        RETRY_RUN_MS,
        `the lease could not be claimed: ${(err as Error).message}`,
      );
    }
    if (!got) {
      logger.warn({ swarmId }, 'swarm.run for a swarm that does not exist; dropped');
      return undefined;
    }
    if ('heldUntil' in got) {
      // Another process runs it (or ran it and may be gone): try again once its lease may be free.
      const wait = Math.max(250, got.heldUntil.getTime() - Date.now() + 250);
      throw new JobDeferredError(wait, 'the swarm is run elsewhere');
    }
    return got;
  }

  /** `work`, retried while it fails for a reason that may pass and the claim lasts. */
  async function whileClaimed<T>(claim: Claim, work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (!isTransient(err) || claim.signal.aborted) throw err;
        if (attempt === 0)
          logger.warn({ err, ...about(claim.swarmId) }, 'swarm step failed; retrying');
        await backoff(attempt, claim.signal);
      }
    }
  }

  /**
   * The `swarm.run` job: runs the swarm here until it has to wait. Returns the follow-up that hands
   * it on again when a cancellation or decision arrived while the job still held its id; gives the
   * job back (early, without writing more) when `signal` aborts or the lease is lost.
   */
  async function run(swarmId: string, signal: AbortSignal): Promise<JobFollowUp | void> {
    const claim = await claimFor(swarmId);
    if (!claim || claim.running) return; // no such swarm, or a run of it is under way here
    claim.running = true;
    const giveBack = () =>
      claim.stop(signal.reason instanceof Error ? signal.reason : new Error('stopping'));
    signal.addEventListener('abort', giveBack, { once: true });
    claim.signal.addEventListener('abort', () => claim.wake(), { once: true });
    let seen = 0;
    try {
      if (!claim.fresh) {
        cache.delete(swarmId); // another process, or an earlier start of this one, ran it last
        // Whoever ran it before is gone: nothing of this swarm is in flight any more.
        await whileClaimed(claim, () => store.clearReservations([swarmId]));
      }
      const state = await whileClaimed(claim, () => withLock(swarmId, () => load(swarmId))).catch(
        (err: unknown) => {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        },
      );
      if (!state) {
        logger.warn({ swarmId }, 'swarm.run for a swarm that does not exist; dropped');
        return;
      }
      for (const t of activeTasks(state)) await enqueueTask(swarmId, t.taskId);
      await whileClaimed(claim, () => advance(swarmId));
      for (;;) {
        const woken = new Promise<void>((resolve) => (claim.wake = resolve));
        if (claim.signal.aborted) {
          if (claim.tasks === 0) break;
        } else {
          // The fold kept while the swarm runs here is read as it is (a look, no step taken);
          // only a fold that must be read again from the log waits for the swarm's lock.
          const now =
            cache.get(swarmId) ??
            (await whileClaimed(claim, () => withLock(swarmId, () => load(swarmId))));
          seen = now.seq;
          const waits = now.completion !== undefined || !hasActiveTasks(now);
          if (claim.tasks === 0 && waits) break;
        }
        await woken;
      }
    } catch (err) {
      if (!isStopped(err) && !claim.signal.aborted) throw err;
    } finally {
      signal.removeEventListener('abort', giveBack);
      // Its tasks have settled: nothing more is written under the lease. A finished swarm's last
      // append freed the lease (if that append fails after all, the lease expires instead).
      await claims.release(claim, cache.get(swarmId)?.completion !== undefined);
      cache.delete(swarmId);
    }
    if (claim.lost && !halted)
      throw new JobDeferredError(
        RETRY_RUN_MS,
        'the lease was lost; the swarm goes on where it is held',
      );
    if (signal.aborted || halted) return; // given back: the next runner carries on
    return async () => {
      const later = await store.events(swarmId, seen, 1);
      if (later.length) await enqueueRun(swarmId);
    };
  }

  const engine: SwarmEngine = {
    async submit(spec, meta) {
      const id = randomUUID();
      spec = { ...spec, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
      // Only this process opens the database: it will run the swarm, so it holds the lease from
      // the start (no claim statement before the first step).
      const lease = deps.shared ? undefined : { owner, ttlMs: leaseMs };
      const first = await store.create({
        id,
        spec,
        createdBy: meta.createdBy,
        requestId: meta.requestId,
        ...(lease ? { lease } : {}),
        idempotency: meta.idempotency,
      });
      if (lease) {
        claims.adopt(id, { epoch: 1, owner: lease.owner });
        // Run here, the log is this one event: its first step needs no read.
        cache.set(id, foldEvents([first.data]));
      }
      deps.observer?.eventsCommitted?.(initialState(spec), [first.data]);
      bus.publish({ kind: 'events', swarmId: id, lastSeq: 1 }).catch(() => undefined);
      try {
        await enqueueRun(id);
      } catch (err) {
        logger.warn(
          { err, swarmId: id, requestId: meta.requestId },
          'swarm saved; it runs once the queue answers',
        );
      }
      // As stored by the create: the run may have started since, which the caller follows.
      return first.record;
    },

    async cancel(id, by, requestId) {
      await decideAndRecord(
        id,
        (s) => {
          if (isTerminal(s.status))
            throw new AppError('CONFLICT', `swarm ${id} already ended as ${s.status}`);
          return [{ type: 'swarm.cancel_requested', by }];
        },
        requestId,
      );
      bus.publish({ kind: 'cancel', swarmId: id }).catch((err: unknown) => {
        logger.warn(
          { err, swarmId: id },
          'cancel signal not sent; the runner sees the cancel in the log',
        );
      });
      await enqueueAfterCommit(id);
      return (await store.get(id))!;
    },

    async decide(id, decision, rationale, by, requestId) {
      await decideAndRecord(
        id,
        (s) => {
          const it = s.iterations[s.iterations.length - 1];
          if (s.status !== 'awaiting_decision' || !it || it.decision) {
            throw new AppError(
              'CONFLICT',
              `swarm ${id} is not waiting for a decision (status ${s.status})`,
            );
          }
          return [
            {
              type: 'decision.made',
              iteration: it.n,
              decision,
              rationale: rationale || `decided by ${by}`,
              by: 'human',
            },
          ];
        },
        requestId,
      );
      await enqueueAfterCommit(id);
      return (await store.get(id))!;
    },

    // What has been written: the lock keeps new appends out while those in flight settle (a
    // failed one drops the cached fold, and the log is read again).
    state: (id) =>
      withLock(id, async () => {
        await lastWrite.get(id)?.catch(() => undefined);
        return load(id);
      }),

    async recover(options = {}) {
      if (halted) return 0;
      const ids = await store.unfinished();
      for (const id of await store.pendingWebhooks(WEBHOOK_ATTEMPTS))
        await queue.enqueue(
          'webhook.deliver',
          { swarmId: id },
          { group: id, jobId: `webhook:${id}` },
        );
      // A run in progress holds its job's id, so this adds nothing for it.
      for (const id of ids) await enqueueRun(id);
      if (ids.length)
        logger[options.quiet ? 'debug' : 'info'](
          { swarms: ids.length },
          'resuming unfinished swarms',
        );
      return ids.length;
    },

    async halt() {
      halted = true;
      const why = new WorkStoppedError('*', 'the engine is halted');
      for (const set of inFlight.values()) for (const c of set) c.abort(why);
      for (const claim of claims.all()) claims.lose(claim.swarmId, why);
      if (busy) await new Promise<void>((resolve) => idle.push(resolve));
      await Promise.allSettled([...lastWrite.values()]);
      // What is not durable by now would land in the database that replaces this one.
      await journal.drain(2000);
      cache.clear();
    },

    async resume() {
      halted = false;
      journal.reopen();
      await engine.recover();
    },

    stop: () => claims.stop(),

    handlers: {
      'swarm.run': ({ swarmId }, signal) =>
        halted
          ? Promise.reject(new JobDeferredError(RETRY_RUN_MS, 'the engine is halted'))
          : tracked(() => run(swarmId, signal)),
      'swarm.advance': ({ swarmId }) =>
        tracked(async () => {
          const claim = claims.get(swarmId);
          if (!claim) return enqueueRun(swarmId);
          await whileClaimed(claim, () => advance(swarmId)).catch((err: unknown) => {
            if (!isStopped(err) && !claim.signal.aborted) throw err;
          });
        }),
      'agent.run': ({ swarmId, taskId }, signal) => tracked(() => runTask(swarmId, taskId, signal)),
      'webhook.deliver': (payload) => tracked(() => deliverWebhook(payload)),
    },
  };

  const deliverWebhook = createWebhookHandler({
    store,
    queue,
    transport: deps.webhooks.transport,
    secret: deps.webhooks.secret,
    logger,
    maxAttempts: WEBHOOK_ATTEMPTS,
    ...(deps.webhooks.baseDelayMs !== undefined ? { baseDelayMs: deps.webhooks.baseDelayMs } : {}),
  });
  return engine;
}
