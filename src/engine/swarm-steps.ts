// A swarm's steps: the next action is a pure function of the fold (domain/cfn), carried out here
// and appended under the swarm's lease. Consecutive steps are decided in memory and written as one
// append; only what must follow a durable write (queueing tasks, webhooks) ends a section early.
import { nextAction, type Action } from '../domain/cfn/next-action.js';
import type { SwarmEvent, TaskSpec } from '../domain/cfn/spec.js';
import { applyEvent, unappliedFacts, type SwarmState } from '../domain/cfn/state.js';
import { UnstorableError, type JournalEntry } from '../ports/swarm-store.js';
import { WorkStoppedError, type EngineContext } from './engine-context.js';

const MAX_STEPS_PER_ADVANCE = 500;

/** What a task reports when it ends, and the journal entries that go with it. */
export interface TaskFacts {
  events: SwarmEvent[];
  journal?: JournalEntry[];
}

export function createSwarmSteps(ctx: EngineContext) {
  const { store, logger } = ctx;

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
            for (const t of action.tasks) await ctx.enqueueTask(swarmId, t.taskId);
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
          const ws = await ctx.deps.workspaces.open(state.spec.workspace, {
            network: state.spec.network === true,
          });
          const snap = await ws.snapshot();
          await store.saveSnapshot(swarmId, action.iteration, snap.files);
        }
        return { events };
      }
      case 'check-deliverable': {
        const ws = await ctx.deps.workspaces.open(state.spec.workspace!, {
          network: state.spec.network === true,
        });
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
            for (const c of ctx.inFlight.get(swarmId) ?? [])
              c.abort(new Error(`swarm ${action.status}`));
            if (state.spec.webhookUrl) {
              await ctx.queue.enqueue(
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

  /** A task outcome the database refused (its values): the task fails with that reason instead. */
  function asUnstorable(facts: TaskFacts, err: UnstorableError): TaskFacts {
    return {
      events: facts.events.map((e) =>
        e.type === 'task.succeeded' || e.type === 'task.failed'
          ? {
              type: 'task.failed',
              taskId: e.taskId,
              reason: `the task's result could not be stored: ${err.message}`.slice(0, 2000),
              retryable: false,
              tokens: e.tokens,
              costUsd: e.costUsd,
            }
          : e,
      ),
    };
  }

  /**
   * Carries out the swarm's next steps until it has to wait. `facts` (a task's outcome, with its
   * journal entries) come first; an outcome the task already has is dropped. Only the holder of the
   * swarm's claim may advance it.
   */
  async function advance(swarmId: string, facts?: TaskFacts): Promise<void> {
    let pending = facts;
    let refused = false;
    for (let step = 0; step < MAX_STEPS_PER_ADVANCE; step++) {
      // The lock covers deciding and queueing the append, not waiting for it to be durable: the
      // next holder decides on this fold while it is written (the store writes a swarm's appends
      // in order, and refuses those built on one that failed). What must follow a durable write
      // happens after it, outside the lock.
      const section = await ctx.withLock(swarmId, async () => {
        if (!ctx.claims.get(swarmId)) throw new WorkStoppedError(swarmId, 'not run here');
        const state = await ctx.load(swarmId);
        const expected = state.seq;
        const events: SwarmEvent[] = [];
        const fold = (more: SwarmEvent[]) => {
          for (const e of more) applyEvent(state, e);
          events.push(...more);
        };
        if (pending) fold(unappliedFacts(state, pending.events));
        let after: (() => Promise<void>) | undefined;
        let done = false;
        for (let n = 0; n < MAX_STEPS_PER_ADVANCE && !after; n++) {
          let next;
          try {
            next = await plan(swarmId, state, nextAction(state));
          } catch (err) {
            if (events.length) ctx.dropFold(swarmId); // folded but never written
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
          ? ctx.persist(swarmId, state, expected, events, {
              ...(pending?.journal?.length ? { journal: pending.journal } : {}),
            })
          : Promise.resolve(true);
        written.catch(() => undefined); // awaited below, once the lock is released
        return { written, after, done, completed: state.completion !== undefined };
      });
      try {
        if (!(await section.written)) continue; // another writer got there first: decide again
      } catch (err) {
        if (err instanceof UnstorableError && pending && !refused) {
          refused = true;
          logger.warn({ err, ...ctx.about(swarmId) }, "a task's outcome could not be stored");
          pending = asUnstorable(pending, err);
          continue;
        }
        throw err;
      }
      pending = undefined;
      if (section.after) await section.after();
      // A completed swarm has no next step: deciding again would only read its log back.
      if (section.done || section.completed) {
        ctx.claims.get(swarmId)?.wake();
        return;
      }
    }
    if (pending) throw new Error(`could not append to swarm ${swarmId}: too much contention`);
    logger.warn(ctx.about(swarmId), 'advance stopped after too many steps; re-enqueued');
    await ctx.enqueueAdvance(swarmId);
  }

  return { advance };
}
