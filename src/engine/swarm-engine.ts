// Runs swarms: decides each next step from the durable event log (domain/cfn), carries it out,
// and persists the result before anything is acknowledged. A swarm runs in one process at a time,
// which is then its only writer apart from cancellations and decisions (optimistic appends catch
// those): embedded, the only process; distributed, the worker holding the swarm's `swarm.run` job,
// which runs the swarm's steps and agent tasks on its in-process queue until the swarm has to wait.
// Jobs may run twice: every handler re-reads the log and is idempotent.
import { randomUUID } from 'node:crypto';
import { AppError, NotFoundError } from '../domain/errors.js';
import type { Decision } from '../domain/cfn/modes.js';
import { nextAction, type Action } from '../domain/cfn/next-action.js';
import { isTerminal, type SwarmEvent, type SwarmSpec, type TaskSpec } from '../domain/cfn/spec.js';
import {
  activeTasks,
  applyEvent,
  findTask,
  foldEvents,
  initialState,
  type SwarmState,
  type TaskState,
} from '../domain/cfn/state.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Logger } from '../ports/logger.js';
import {
  ConcurrentAppendError,
  type JournalEntry,
  type SwarmRecord,
  type SwarmStore,
} from '../ports/swarm-store.js';
import type { JobFollowUp, JobHandlers, TaskQueue } from '../ports/task-queue.js';
import { createAgentRunner, type TaskOutcome } from './agent-runner.js';
import type {
  AgentCatalog,
  EngineLimits,
  EngineObserver,
  ProviderResolver,
  WorkspaceAccess,
} from './ports.js';
import { createKeyedMutex } from './swarm-lock.js';
import { createWebhookHandler } from './webhooks.js';
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
   * Other processes run swarms too (distributed): a swarm runs where its `swarm.run` job is taken,
   * and `queue` carries that job to every worker. Without it every swarm runs here.
   */
  shared?: boolean;
  webhooks: { transport: WebhookTransport; secret: string | undefined; baseDelayMs?: number };
}

export interface SwarmEngine {
  submit(
    spec: SwarmSpec,
    meta: { createdBy: string | null; requestId: string | null },
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
   * Re-enqueues every unfinished swarm and its open tasks (start-up after a crash; with a shared
   * queue also now and then, for jobs a Redis restart lost). Quiet: log at debug level only.
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
  handlers: JobHandlers;
}

/** A swarm this process runs now (distributed): it holds the swarm's `swarm.run` job. */
interface Claim {
  /** Aborted when the job must be given back (the worker stops): the swarm's calls stop. */
  lease: AbortController;
  /** Tasks of the swarm executing here. */
  running: number;
  /** Tells the run to look again whether the swarm has to wait. */
  wake: () => void;
}

const MAX_STEPS_PER_ADVANCE = 500;
const WEBHOOK_ATTEMPTS = 6;

export function createSwarmEngine(deps: SwarmEngineDeps): SwarmEngine {
  const { store, queue, bus, logger } = deps;
  const cache = new Map<string, SwarmState>();
  const withLock = createKeyedMutex();
  /** AbortControllers of the calls in flight here, by swarm: cancellation aborts them. */
  const inFlight = new Map<string, Set<AbortController>>();
  const claims = new Map<string, Claim>();
  /**
   * The last append queued for each swarm while it is being written: a swarm's appends are
   * written in order, so once it has settled every earlier one has too.
   */
  const lastWrite = new Map<string, Promise<unknown>>();
  /**
   * Only this process appends to the swarm (apart from cancellations and decisions, whose appends
   * make ours fail and the fold be read again), so the cached fold is the log.
   */
  const runsHere = (swarmId: string) => !deps.shared || claims.has(swarmId);
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
      cache.set(swarmId, state);
      return state;
    }
    if (runsHere(swarmId)) return state;
    for (;;) {
      const more = await store.events(swarmId, state.seq, 10_000);
      for (const e of more) applyEvent(state, e.data);
      if (more.length < 10_000) return state;
    }
  }

  /** Appends events at the end of the log (under the lock); false when another writer got there first. */
  async function commit(
    swarmId: string,
    state: SwarmState,
    events: SwarmEvent[],
    journal?: JournalEntry[],
    requestId?: string | null,
  ): Promise<boolean> {
    const expected = state.seq;
    for (const e of events) applyEvent(state, e);
    return persist(swarmId, state, expected, events, journal, requestId);
  }

  /**
   * Writes events already folded into `state` (which was at `expected` before them). Their
   * request id is that of the request asking (cancel, decision) or else the submitter's: the
   * swarm's jobs work on its behalf.
   */
  async function persist(
    swarmId: string,
    state: SwarmState,
    expected: number,
    events: SwarmEvent[],
    journal?: JournalEntry[],
    requestId?: string | null,
  ): Promise<boolean> {
    if (halted) throw new Error('the engine is halted: nothing is written');
    const write = store.append(swarmId, expected, events, state, {
      requestId: requestId ?? state.spec.requestId ?? null,
      ...(journal?.length ? { journal } : {}),
    });
    lastWrite.set(swarmId, write);
    try {
      await write;
    } catch (err) {
      cache.delete(swarmId); // the in-memory fold ran ahead of the log: rebuild it
      if (err instanceof ConcurrentAppendError) return false;
      throw err;
    } finally {
      if (lastWrite.get(swarmId) === write) lastWrite.delete(swarmId);
    }
    deps.observer?.eventsCommitted?.(state, events);
    // A completed swarm's fold is not kept, but for the run that holds its claim (distributed):
    // that run reads it once more to see it has ended, and drops it when it stops.
    if (state.completion && !claims.has(swarmId)) cache.delete(swarmId);
    await bus.publish({ kind: 'events', swarmId, lastSeq: state.seq });
    return true;
  }

  /** Records facts (they hold whatever else happened meanwhile): retried on concurrent appends. */
  async function record(swarmId: string, events: SwarmEvent[]): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const ok = await withLock(swarmId, async () => commit(swarmId, await load(swarmId), events));
      if (ok) return;
    }
    throw new Error(`could not append to swarm ${swarmId}: too much contention`);
  }

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

  /** Hands a swarm that is not run here to whichever worker takes its `swarm.run` job. */
  const enqueueRun = (swarmId: string) =>
    queue.enqueue('swarm.run', { swarmId }, { group: swarmId, jobId: `run:${swarmId}` });
  const enqueueAdvance = (swarmId: string) =>
    runsHere(swarmId)
      ? queue.enqueue('swarm.advance', { swarmId }, { group: swarmId, jobId: `advance:${swarmId}` })
      : enqueueRun(swarmId);
  const enqueueTask = (swarmId: string, taskId: string) =>
    runsHere(swarmId)
      ? queue.enqueue(
          'agent.run',
          { swarmId, taskId },
          { group: swarmId, jobId: `task:${swarmId}:${taskId}` },
        )
      : enqueueRun(swarmId);

  async function retrospective(
    swarmId: string,
    state: SwarmState,
    outcome: string,
  ): Promise<SwarmEvent[]> {
    const last = state.iterations[state.iterations.length - 1];
    const lessons = [
      `Outcome ${outcome} after ${state.iterations.length} iteration(s) with ${state.spec.agents.join(', ')}.`,
      ...(last?.feedback ?? []).slice(0, 5),
    ].join('\n');
    await store.addPlaybookEntry({
      id: swarmId, // one entry per swarm: a replayed retrospective writes nothing new
      swarmId,
      objective: state.spec.objective,
      taskClass: `${state.spec.strategy}/${state.spec.mode}`,
      strategy: state.spec.strategy,
      mode: state.spec.mode,
      agents: state.spec.agents,
      iterations: state.iterations.length,
      outcome,
      gateScore: last?.gate?.score ?? null,
      consensusScore: last?.consensus?.score ?? null,
      costUsd: state.costUsd,
      lessons,
    });
    return [{ type: 'retrospective.recorded', entryId: swarmId }];
  }

  /**
   * What an action writes, and what may only happen once that is durable (queueing tasks,
   * webhooks, aborting calls). Reads and idempotent writes (playbook, snapshots) happen here.
   */
  async function plan(
    swarmId: string,
    state: SwarmState,
    action: Action,
  ): Promise<{ events: SwarmEvent[]; after?: () => Promise<void> } | 'stop'> {
    switch (action.kind) {
      case 'none':
      case 'wait':
        return 'stop';
      case 'append':
        return { events: action.events };
      case 'schedule':
        return {
          events: action.tasks.map((t: TaskSpec) => ({ type: 'task.scheduled', ...t })),
          after: async () => {
            for (const t of action.tasks) await enqueueTask(swarmId, t.taskId);
          },
        };
      case 'start-iteration': {
        const events: SwarmEvent[] = [];
        if (action.iteration === 1 && !state.playbook) {
          const [match] = await store
            .searchPlaybook(state.spec.objective, 1)
            .catch((err: unknown) => {
              logger.warn(
                { err, swarmId, requestId: state.spec.requestId },
                'playbook look-up failed',
              );
              return [];
            });
          if (match && match.swarmId !== swarmId) {
            events.push({
              type: 'playbook.matched',
              entryId: match.id,
              objective: match.objective,
              rank: match.rank,
              hint:
                `A similar objective ("${match.objective.slice(0, 200)}") ended ${match.outcome} after ` +
                `${match.iterations} iteration(s) using ${match.agents.join(', ')} (${match.strategy}, ${match.mode}).\n${match.lessons}`,
            });
          }
        }
        events.push({
          type: 'iteration.started',
          iteration: action.iteration,
          feedback: action.feedback,
        });
        if (state.spec.workspace) {
          const ws = await deps.workspaces.open(state.spec.workspace);
          const snap = await ws.snapshot();
          await store.saveSnapshot(swarmId, action.iteration, snap.files);
        }
        return { events };
      }
      case 'check-deliverable': {
        const ws = await deps.workspaces.open(state.spec.workspace!);
        const before = (await store.loadSnapshot(swarmId, action.iteration)) ?? {};
        const changedFiles = await ws.changesSince({ files: before });
        return {
          events: [
            {
              type: 'deliverable.checked',
              iteration: action.iteration,
              changedFiles,
              passed: changedFiles.length > 0,
            },
          ],
        };
      }
      case 'finish': {
        const events = action.retrospective
          ? await retrospective(swarmId, state, action.status)
          : [];
        events.push({ type: 'swarm.completed', status: action.status, reason: action.reason });
        return {
          events,
          after: async () => {
            // Calls still in flight for this swarm (a cancel, a budget stop) are no longer wanted.
            for (const c of inFlight.get(swarmId) ?? [])
              c.abort(new Error(`swarm ${action.status}`));
            if (state.spec.webhookUrl) {
              await queue.enqueue(
                'webhook.deliver',
                { swarmId },
                { group: swarmId, jobId: `webhook:${swarmId}` },
              );
            }
            logger.info(
              {
                swarmId,
                requestId: state.spec.requestId,
                status: action.status,
                reason: action.reason,
              },
              'swarm finished',
            );
          },
        };
      }
    }
  }

  /**
   * Carries out the swarm's next steps until it has to wait. `facts` (a task's outcome, with its
   * journal entries) come first. Decisions are a pure function of the fold, so consecutive steps
   * are decided in memory and written as one append; only what must follow a durable write
   * (queueing, webhooks) ends a section early.
   */
  async function advance(
    swarmId: string,
    facts?: { events: SwarmEvent[]; journal?: JournalEntry[] },
  ): Promise<void> {
    let pending = facts;
    for (let step = 0; step < MAX_STEPS_PER_ADVANCE; step++) {
      // The lock covers deciding and queueing the append, not waiting for it to be durable: the
      // next holder decides on this fold while it is written (the store writes a swarm's appends
      // in order, and refuses those built on one that failed). What must follow a durable write
      // happens after it, outside the lock.
      const section = await withLock(swarmId, async () => {
        const state = await load(swarmId);
        const expected = state.seq;
        const events: SwarmEvent[] = [];
        const fold = (more: SwarmEvent[]) => {
          for (const e of more) applyEvent(state, e);
          events.push(...more);
        };
        if (pending) fold(pending.events);
        let after: (() => Promise<void>) | undefined;
        let done = false;
        for (let n = 0; n < MAX_STEPS_PER_ADVANCE && !after; n++) {
          let next;
          try {
            next = await plan(swarmId, state, nextAction(state));
          } catch (err) {
            if (events.length) cache.delete(swarmId); // folded but never written
            throw err;
          }
          if (next === 'stop' || !next.events.length) {
            done = true;
            break;
          }
          fold(next.events);
          after = next.after;
        }
        const written = events.length
          ? persist(swarmId, state, expected, events, pending?.journal)
          : Promise.resolve(true);
        written.catch(() => undefined); // awaited below, once the lock is released
        return { written, after, done, completed: state.completion !== undefined };
      });
      if (!(await section.written)) continue; // another writer got there first: decide again
      pending = undefined;
      if (section.after) await section.after();
      // A completed swarm has no next step: deciding again would only read its log back (its
      // fold leaves the cache once it completes).
      if (section.done || section.completed) {
        claims.get(swarmId)?.wake();
        return;
      }
    }
    if (pending) throw new Error(`could not append to swarm ${swarmId}: too much contention`);
    logger.warn(about(swarmId), 'advance stopped after too many steps; re-enqueued');
    await enqueueAdvance(swarmId);
  }

  const runner = createAgentRunner({
    store,
    agents: deps.agents,
    providers: deps.providers,
    pricing: deps.pricing,
    workspaces: deps.workspaces,
    limits: deps.limits,
    ...(deps.observer ? { observer: deps.observer } : {}),
    record,
  });

  /** Tasks executing in this process: a duplicate job for one of them is dropped. */
  const executing = new Set<string>();

  async function runTask(swarmId: string, taskId: string, jobSignal: AbortSignal): Promise<void> {
    const taskKey = `${swarmId}/${taskId}`;
    if (executing.has(taskKey)) return;
    const claim = claims.get(swarmId);
    if (deps.shared && !claim) return enqueueRun(swarmId); // its run ended here: hand it on
    executing.add(taskKey);
    if (claim) claim.running++;
    try {
      const signal = claim ? AbortSignal.any([jobSignal, claim.lease.signal]) : jobSignal;
      await runTaskOnce(swarmId, taskId, signal);
    } finally {
      executing.delete(taskKey);
      if (claim) {
        claim.running--;
        claim.wake();
      }
    }
  }

  async function runTaskOnce(
    swarmId: string,
    taskId: string,
    jobSignal: AbortSignal,
  ): Promise<void> {
    let controller = new AbortController();
    const started = performance.now();
    let running: Promise<TaskOutcome> | undefined;
    /** The task's status when this job first looked: 'running' then means its worker died. */
    let firstSeen: TaskState['status'] | undefined;
    let prepared: { task: TaskSpec } | 'retry' | undefined = 'retry';
    for (let i = 0; prepared === 'retry' && i < 50; i++) {
      const section = await withLock(swarmId, async () => {
        const state = await load(swarmId);
        const task = findTask(state, taskId);
        if (!task || task.status === 'succeeded' || task.status === 'failed' || state.completion)
          return undefined;
        if (state.cancelRequested) {
          await commit(swarmId, state, [
            {
              type: 'task.failed',
              taskId,
              reason: 'cancelled before it started',
              retryable: false,
              cancelled: true,
              tokens: { input: 0, output: 0 },
              costUsd: 0,
            },
          ]);
          return undefined;
        }
        firstSeen ??= task.status;
        // The swarm runs only here, so a task already running when this job first looked was
        // left by a process that is gone (this one before a restart, or the worker that ran the
        // swarm before): it is taken over. One that started since is this job's duplicate.
        if (task.status === 'running' && firstSeen === 'scheduled') return undefined;
        const fresh = task.status === 'scheduled';
        const spec = state.spec;
        const taskSpec = { ...task } as TaskSpec;
        const startWrite = fresh
          ? commit(swarmId, state, [{ type: 'task.started', taskId, worker: deps.workerId }])
          : Promise.resolve(true);
        startWrite.catch(() => undefined); // awaited below, once the lock is released
        // The call starts while task.started is being written (it acknowledges nothing), and
        // nothing the task writes comes before it: the store writes the swarm's appends in order.
        const durable = startWrite.then((ok) => {
          if (!ok) throw new Error('the swarm changed meanwhile');
        });
        durable.catch(() => undefined);
        running = startTask(swarmId, spec, taskSpec, controller, jobSignal, fresh, durable);
        return { task: taskSpec, startWrite };
      });
      if (!section) {
        prepared = undefined;
        break;
      }
      let started: boolean;
      try {
        started = await section.startWrite;
      } catch (err) {
        controller.abort(err);
        await running?.catch(() => undefined);
        throw err;
      }
      if (!started) {
        // A cancellation or decision was appended elsewhere first: stop, read the log again.
        controller.abort(new Error('the swarm changed meanwhile'));
        await running?.catch(() => undefined);
        running = undefined;
        controller = new AbortController(); // the retry's call must not start aborted
        prepared = 'retry';
        continue;
      }
      prepared = { task: section.task };
    }
    if (prepared === 'retry')
      throw new Error(`could not start task ${taskId}: too much contention`);
    if (!prepared || !running) {
      await enqueueAdvance(swarmId);
      return;
    }
    const outcome = await running;
    if (halted) return; // the task stays open: the engine reloads it after the halt
    if (jobSignal.aborted && !outcome.ok && outcome.cancelled) {
      // This process is stopping: leave the task open so recovery runs it again.
      return;
    }
    const event: SwarmEvent = outcome.ok
      ? {
          type: 'task.succeeded',
          taskId,
          output: outcome.output,
          tokens: outcome.tokens,
          costUsd: outcome.costUsd,
        }
      : {
          type: 'task.failed',
          taskId,
          reason: outcome.reason,
          retryable: outcome.retryable,
          ...(outcome.budgetExceeded ? { budgetExceeded: true } : {}),
          ...(outcome.cancelled ? { cancelled: true } : {}),
          tokens: outcome.tokens,
          costUsd: outcome.costUsd,
        };
    await advance(swarmId, {
      events: [event],
      ...(outcome.journal ? { journal: outcome.journal } : {}),
    });
    // The event put this usage into the swarm's totals: it need not stay reserved.
    if (outcome.held && (outcome.held.tokens || outcome.held.usd)) {
      await store.releaseBudget(swarmId, outcome.held.tokens, outcome.held.usd);
    }
    deps.observer?.taskFinished?.(
      prepared.task.agent ?? 'command',
      outcome.ok ? 'succeeded' : 'failed',
      (performance.now() - started) / 1000,
    );
  }

  /** Runs the task's conversation, abortable by a cancel of its swarm or the job's own signal. */
  async function startTask(
    swarmId: string,
    spec: SwarmSpec,
    task: TaskSpec,
    controller: AbortController,
    jobSignal: AbortSignal,
    fresh: boolean,
    durable: Promise<void>,
  ): Promise<TaskOutcome> {
    const onJobAbort = () => controller.abort(jobSignal.reason);
    jobSignal.addEventListener('abort', onJobAbort, { once: true });
    let set = inFlight.get(swarmId);
    if (!set) inFlight.set(swarmId, (set = new Set()));
    set.add(controller);
    try {
      const headers: Record<string, string> = {};
      if (spec.requestId) headers['x-request-id'] = spec.requestId;
      return await runner.run(swarmId, spec, task, controller.signal, headers, fresh, durable);
    } finally {
      set.delete(controller);
      if (!set.size) inFlight.delete(swarmId);
      jobSignal.removeEventListener('abort', onJobAbort);
    }
  }

  /** Appends the events `decide` derives from the current state; it throws to refuse. */
  async function decideAndRecord(
    swarmId: string,
    decide: (s: SwarmState) => SwarmEvent[],
    requestId: string | null | undefined,
  ) {
    for (let i = 0; i < 50; i++) {
      const ok = await withLock(swarmId, async () => {
        const state = await load(swarmId);
        return commit(swarmId, state, decide(state), undefined, requestId);
      });
      if (ok) return;
    }
    throw new Error(`could not append to swarm ${swarmId}: too much contention`);
  }

  /**
   * Runs the swarm here until it has to wait (distributed: this process took its `swarm.run`
   * job). Returns the follow-up that hands it on again when a cancellation or decision arrived
   * while the job still held its id; returns early, giving the job back, when `signal` aborts.
   */
  async function run(swarmId: string, signal: AbortSignal): Promise<JobFollowUp | void> {
    if (claims.has(swarmId)) return;
    const claim: Claim = { lease: new AbortController(), running: 0, wake: () => undefined };
    const release = () => claim.lease.abort(signal.reason);
    signal.addEventListener('abort', release, { once: true });
    claim.lease.signal.addEventListener('abort', () => claim.wake(), { once: true });
    claims.set(swarmId, claim);
    let seen = 0;
    try {
      cache.delete(swarmId); // another process ran it last
      // Whoever ran it before is gone: nothing of this swarm is in flight any more.
      await store.clearReservations([swarmId]);
      const state = await withLock(swarmId, () => load(swarmId)).catch((err: unknown) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      });
      if (!state) {
        logger.warn({ swarmId }, 'swarm.run for a swarm that does not exist; dropped');
        return;
      }
      for (const t of activeTasks(state)) await enqueueTask(swarmId, t.taskId);
      await advance(swarmId);
      for (;;) {
        const woken = new Promise<void>((resolve) => (claim.wake = resolve));
        const now = await withLock(swarmId, () => load(swarmId));
        seen = now.seq;
        const waits = now.completion !== undefined || activeTasks(now).length === 0;
        if (claim.running === 0 && (waits || claim.lease.signal.aborted)) break;
        await woken;
      }
    } finally {
      claims.delete(swarmId);
      cache.delete(swarmId);
      signal.removeEventListener('abort', release);
    }
    if (signal.aborted) return; // given back: the next runner carries on
    return async () => {
      const later = await store.events(swarmId, seen, 1);
      if (later.length) await enqueueRun(swarmId);
    };
  }

  /** A log line's swarm fields: the swarm and the request that submitted it (correlation). */
  const about = (swarmId: string) => ({ swarmId, requestId: cache.get(swarmId)?.spec.requestId });

  const engine: SwarmEngine = {
    async submit(spec, meta) {
      const id = randomUUID();
      spec = { ...spec, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
      const first = await store.create({
        id,
        spec,
        createdBy: meta.createdBy,
        requestId: meta.requestId,
      });
      // Run here, the log is this one event: its first step needs no read.
      if (runsHere(id)) cache.set(id, foldEvents([first.data]));
      deps.observer?.eventsCommitted?.(initialState(spec), [first.data]);
      await bus.publish({ kind: 'events', swarmId: id, lastSeq: 1 });
      await enqueueAfterCommit(id);
      return (await store.get(id))!;
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
      await bus.publish({ kind: 'cancel', swarmId: id });
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
      if (deps.shared) {
        // Every worker runs this now and then: queue each swarm's run (a run in progress holds
        // its job's id, so this adds nothing for it).
        for (const id of ids) await enqueueRun(id);
        return ids.length;
      }
      // No call of these swarms is in flight any more: what they had reserved is free again.
      await store.clearReservations(ids);
      for (const id of ids) {
        const state = await withLock(id, () => load(id));
        // A running task here was this process's (it is the only one) and died with it.
        for (const t of activeTasks(state)) await enqueueTask(id, t.taskId);
        await enqueueAdvance(id);
      }
      if (ids.length)
        logger[options.quiet ? 'debug' : 'info'](
          { swarms: ids.length },
          'resuming unfinished swarms',
        );
      return ids.length;
    },

    async halt() {
      halted = true;
      const why = new Error('the engine is halted');
      for (const set of inFlight.values()) for (const c of set) c.abort(why);
      for (const claim of claims.values()) claim.lease.abort(why);
      if (busy) await new Promise<void>((resolve) => idle.push(resolve));
      await Promise.allSettled([...lastWrite.values()]);
      cache.clear();
    },

    async resume() {
      halted = false;
      await engine.recover();
    },

    handlers: {
      'swarm.run': ({ swarmId }, signal) => tracked(() => run(swarmId, signal)),
      'swarm.advance': ({ swarmId }) =>
        tracked(() => (runsHere(swarmId) ? advance(swarmId) : enqueueRun(swarmId))),
      'agent.run': ({ swarmId, taskId }, signal) => tracked(() => runTask(swarmId, taskId, signal)),
      'webhook.deliver': createWebhookHandler({
        store,
        queue,
        transport: deps.webhooks.transport,
        secret: deps.webhooks.secret,
        logger,
        maxAttempts: WEBHOOK_ATTEMPTS,
        ...(deps.webhooks.baseDelayMs !== undefined
          ? { baseDelayMs: deps.webhooks.baseDelayMs }
          : {}),
      }),
    },
  };
  return engine;
}
