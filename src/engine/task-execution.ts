// One agent task as a job: it starts (task.started is written while the call already runs), runs
// its conversation or command (agent-runner.ts), and its outcome is applied together with the
// swarm's next steps. The outcome of a finished call is retried until the database takes it; a
// task whose claim is gone stops without writing (the next holder replays it from the journal).
import { findTask, type TaskState } from '../domain/cfn/state.js';
import type { SwarmEvent, SwarmSpec, TaskSpec } from '../domain/cfn/spec.js';
import type { AgentRunner, TaskOutcome } from './agent-runner.js';
import { TAKEOVER_SETTLE_MS } from './effect-journal.js';
import type { Claim } from './claims.js';
import {
  WorkStoppedError,
  backoff,
  isStopped,
  isTransient,
  type EngineContext,
} from './engine-context.js';
import type { TaskFacts } from './swarm-steps.js';

export function createTaskExecution(
  ctx: EngineContext,
  runner: AgentRunner,
  advance: (swarmId: string, facts?: TaskFacts) => Promise<void>,
) {
  const { logger } = ctx;
  /** Tasks executing in this process: a duplicate job for one of them is dropped. */
  const executing = new Set<string>();

  /** Runs the task's conversation, abortable by a cancel of its swarm or by `signal`. */
  async function startTask(
    swarmId: string,
    spec: SwarmSpec,
    task: TaskSpec,
    controller: AbortController,
    signal: AbortSignal,
    fresh: boolean,
    durable: Promise<void>,
  ): Promise<TaskOutcome> {
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let set = ctx.inFlight.get(swarmId);
    if (!set) ctx.inFlight.set(swarmId, (set = new Set()));
    set.add(controller);
    try {
      const headers: Record<string, string> = {};
      if (spec.requestId) headers['x-request-id'] = spec.requestId;
      return await runner.run(swarmId, spec, task, controller.signal, headers, fresh, durable);
    } finally {
      set.delete(controller);
      if (!set.size) ctx.inFlight.delete(swarmId);
      signal.removeEventListener('abort', onAbort);
    }
  }

  function factsOf(swarmId: string, taskId: string, outcome: TaskOutcome): TaskFacts {
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
    // The task's journal entries not yet durable go in the same transaction as its outcome, so
    // the outcome is never durable before the calls it was made of.
    const journal = ctx.journal.pending(swarmId, taskId);
    return { events: [event], ...(journal.length ? { journal } : {}) };
  }

  async function runTaskOnce(swarmId: string, taskId: string, claim: Claim, signal: AbortSignal) {
    let controller = new AbortController();
    const started = performance.now();
    let running: Promise<TaskOutcome> | undefined;
    /** The task's status when this job first looked: 'running' then means its worker died. */
    let firstSeen: TaskState['status'] | undefined;
    let prepared: { task: TaskSpec } | 'retry' | undefined = 'retry';
    /**
     * A task taken over from another process (distributed) waits a moment before it looks its calls
     * up: if that process is alive (it lost the lease in a database outage), the results it got
     * are written as soon as the database answers, and are found instead of being paid again.
     */
    let settled = !ctx.deps.shared;
    for (let i = 0; prepared === 'retry' && i < 50; i++) {
      const section = await ctx.withLock(swarmId, async () => {
        if (ctx.claims.get(swarmId) !== claim) throw new WorkStoppedError(swarmId, 'not run here');
        const state = await ctx.load(swarmId);
        const task = findTask(state, taskId);
        if (!task || task.status === 'succeeded' || task.status === 'failed' || state.completion)
          return undefined;
        // A swarm that is stopping starts nothing new (a budget stop waits only for the calls
        // already made).
        const stopping = state.cancelRequested
          ? { reason: 'cancelled before it started', cancelled: true }
          : state.budgetExceeded && task.status === 'scheduled'
            ? { reason: `not started: ${state.budgetExceeded}` }
            : undefined;
        if (stopping) {
          await ctx.commit(swarmId, state, [
            {
              type: 'task.failed',
              taskId,
              retryable: false,
              ...stopping,
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
        if (!fresh && !settled) return 'settle' as const;
        const taskSpec = { ...task } as TaskSpec;
        const startWrite = fresh
          ? ctx.commit(swarmId, state, [
              { type: 'task.started', taskId, worker: ctx.deps.workerId },
            ])
          : Promise.resolve(true);
        startWrite.catch(() => undefined); // awaited below, once the lock is released
        // The call starts while task.started is being written (it acknowledges nothing), and
        // nothing the task writes comes before it: the store writes the swarm's appends in order.
        const durable = startWrite.then((ok) => {
          if (!ok) throw new Error('the swarm changed meanwhile');
        });
        durable.catch(() => undefined);
        running = startTask(swarmId, state.spec, taskSpec, controller, signal, fresh, durable);
        return { task: taskSpec, startWrite };
      });
      if (!section) {
        prepared = undefined;
        break;
      }
      if (section === 'settle') {
        await new Promise((resolve) => setTimeout(resolve, TAKEOVER_SETTLE_MS));
        settled = true;
        continue;
      }
      let startedOk: boolean;
      try {
        startedOk = await section.startWrite;
      } catch (err) {
        controller.abort(err);
        await running?.catch(() => undefined);
        throw err;
      }
      if (!startedOk) {
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
      await advance(swarmId);
      return;
    }
    const outcome = await running;
    // The claim is gone (lost, or the engine halted): nothing may be written; or the call was
    // aborted because this process stops or gives the swarm back. The task stays open and whoever
    // runs the swarm next replays it from the journal.
    if (claim.lost || ctx.halted()) return;
    if (signal.aborted && !outcome.ok && outcome.cancelled) return;
    const facts = factsOf(swarmId, taskId, outcome);
    for (let attempt = 0; ; attempt++) {
      try {
        await advance(swarmId, facts);
        break;
      } catch (err) {
        if (isStopped(err) || signal.aborted || ctx.halted()) return;
        if (!isTransient(err)) throw err;
        if (attempt === 0)
          logger.warn(
            { err, ...ctx.about(swarmId), taskId },
            "a task's outcome is not durable yet; writing it again until it is",
          );
        await backoff(attempt, signal);
      }
    }
    // The event put this usage into the swarm's totals: it need not stay reserved.
    if (outcome.held && (outcome.held.tokens || outcome.held.usd)) {
      await ctx.store
        .releaseBudget(swarmId, outcome.held.tokens, outcome.held.usd)
        .catch((err: unknown) => logger.warn({ err, ...ctx.about(swarmId) }, 'budget hold kept'));
    }
    ctx.deps.observer?.taskFinished?.(
      prepared.task.agent ?? 'command',
      outcome.ok ? 'succeeded' : 'failed',
      (performance.now() - started) / 1000,
    );
  }

  /**
   * The `agent.run` job. A failure that may pass (the database away) is retried here while the
   * claim lasts, not handed to the queue (whose attempts would run out during an outage).
   */
  async function runTask(swarmId: string, taskId: string, jobSignal: AbortSignal): Promise<void> {
    const taskKey = `${swarmId}/${taskId}`;
    if (executing.has(taskKey)) return;
    const claim = ctx.claims.get(swarmId);
    if (!claim) return ctx.enqueueRun(swarmId); // not run here (any more): hand it on
    executing.add(taskKey);
    claim.tasks++;
    // Aborted when the job is (the process stops) or the claim is (lost, given back). Linked by
    // hand: AbortSignal.any costs a weak reference and a GC-tracked dependant per task on Node 20.
    const linked = new AbortController();
    const signal = linked.signal;
    const stop = (why: AbortSignal) => () => linked.abort(why.reason);
    const onJob = stop(jobSignal);
    const onClaim = stop(claim.signal);
    if (jobSignal.aborted) onJob();
    else if (claim.signal.aborted) onClaim();
    jobSignal.addEventListener('abort', onJob, { once: true });
    claim.signal.addEventListener('abort', onClaim, { once: true });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await runTaskOnce(swarmId, taskId, claim, signal);
        } catch (err) {
          if (isStopped(err) || signal.aborted || ctx.halted()) return;
          if (!isTransient(err)) throw err;
          if (attempt === 0)
            logger.warn({ err, ...ctx.about(swarmId), taskId }, 'task start failed; retrying');
          await backoff(attempt, signal);
        }
      }
    } finally {
      jobSignal.removeEventListener('abort', onJob);
      claim.signal.removeEventListener('abort', onClaim);
      executing.delete(taskKey);
      claim.tasks--;
      claim.wake();
    }
  }

  return { runTask };
}
