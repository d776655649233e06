// The embedded TaskQueue: jobs in memory, a concurrency limit per job name, and round-robin
// fairness across groups (swarms) so one large swarm cannot starve the others. Nothing here needs
// to survive a crash: the durable record is in the database, and recovery re-enqueues from it.
import type { Logger } from '../../ports/logger.js';
import { JOB_CATALOG, JOB_NAMES } from '../../ports/job-catalog.js';
import {
  JobDeferredError,
  type EnqueueOptions,
  type JobHandler,
  type JobHandlers,
  type JobName,
  type JobPayloads,
  type QueueCounts,
  type TaskQueue,
} from '../../ports/task-queue.js';

interface Job {
  name: JobName;
  payload: JobPayloads[JobName];
  group: string;
  jobId?: string | undefined;
  attempt: number;
}

export interface InprocQueueOptions {
  concurrency: Partial<Record<JobName, number>>;
  logger: Logger;
  /** The job names this queue carries (default: all). */
  jobs?: readonly JobName[];
  /** Attempts for a handler that throws (a database hiccup), with exponential backoff. */
  maxAttempts?: number;
  backoffMs?: number;
}

class Lane {
  readonly groups = new Map<string, Job[]>();
  /** Round-robin order of groups with waiting jobs. */
  readonly order: string[] = [];
  readonly waitingIds = new Set<string>();
  /** Ids of running jobs of an exclusive job name (held until the job ends). */
  readonly runningIds = new Set<string>();
  active = 0;
  delayed = 0;
  waiting = 0;

  push(job: Job) {
    let q = this.groups.get(job.group);
    if (!q) {
      q = [];
      this.groups.set(job.group, q);
      this.order.push(job.group);
    }
    q.push(job);
    this.waiting++;
    if (job.jobId) this.waitingIds.add(job.jobId);
  }

  shift(): Job | undefined {
    const group = this.order.shift();
    if (group === undefined) return undefined;
    const q = this.groups.get(group)!;
    const job = q.shift()!;
    if (q.length) this.order.push(group);
    else this.groups.delete(group);
    this.waiting--;
    if (job.jobId) this.waitingIds.delete(job.jobId);
    return job;
  }
}

export function createInprocQueue(options: InprocQueueOptions): TaskQueue {
  const maxAttempts = options.maxAttempts ?? 5;
  const names = options.jobs ?? JOB_NAMES;
  const backoffMs = options.backoffMs ?? 100;
  const lanes = new Map<JobName, Lane>();
  const laneOf = (name: JobName) => {
    let l = lanes.get(name);
    if (!l) lanes.set(name, (l = new Lane()));
    return l;
  };
  let handlers: JobHandlers | undefined;
  let stopping = false;
  const running = new Set<Promise<void>>();
  const controllers = new Set<AbortController>();
  const timers = new Set<NodeJS.Timeout>();

  function pump(name: JobName) {
    const lane = laneOf(name);
    const held = JOB_CATALOG[name].exclusive ? lane.runningIds : undefined;
    while (handlers && !stopping && lane.active < (options.concurrency[name] ?? 1)) {
      const job = lane.shift();
      if (!job) return;
      lane.active++;
      if (held && job.jobId) held.add(job.jobId);
      const controller = new AbortController();
      controllers.add(controller);
      const handler = handlers[name] as JobHandler<JobName>;
      let followUp: (() => Promise<void>) | undefined;
      const p = handler(job.payload, controller.signal, { redelivered: job.attempt > 0 })
        .then((next) => {
          if (typeof next === 'function') followUp = next;
        })
        .catch((err: unknown) => {
          if (stopping) return;
          if (err instanceof JobDeferredError) {
            options.logger.debug(
              { job: name, delayMs: err.delayMs, reason: err.message },
              'job deferred',
            );
            later(job, err.delayMs);
          } else if (job.attempt + 1 < maxAttempts) {
            options.logger.warn(
              { err, job: name, attempt: job.attempt + 1 },
              'job failed; retrying',
            );
            later({ ...job, attempt: job.attempt + 1 }, backoffMs * 2 ** job.attempt);
          } else {
            options.logger.error({ err, job: name, payload: job.payload }, 'job failed for good');
          }
        })
        .finally(() => {
          controllers.delete(controller);
          lane.active--;
          if (held && job.jobId) held.delete(job.jobId);
          running.delete(p);
          pump(name);
          followUp?.().catch((err: unknown) => {
            options.logger.warn({ err, job: name }, 'follow-up of a job failed');
          });
        });
      running.add(p);
    }
  }

  function later(job: Job, delayMs: number) {
    const lane = laneOf(job.name);
    lane.delayed++;
    const t = setTimeout(() => {
      timers.delete(t);
      lane.delayed--;
      add(job);
    }, delayMs);
    timers.add(t);
  }

  function add(job: Job) {
    if (stopping) return;
    const lane = laneOf(job.name);
    if (job.jobId && (lane.waitingIds.has(job.jobId) || lane.runningIds.has(job.jobId))) return;
    lane.push(job);
    pump(job.name);
  }

  return {
    async enqueue(name, payload, opts: EnqueueOptions = {}) {
      if (!names.includes(name)) throw new Error(`this queue does not carry ${name} jobs`);
      const job: Job = { name, payload, group: opts.group ?? name, jobId: opts.jobId, attempt: 0 };
      if (opts.delayMs && opts.delayMs > 0) later(job, opts.delayMs);
      else add(job);
    },
    start(h) {
      handlers = h;
      for (const name of lanes.keys()) pump(name);
    },
    busy() {
      const out: Partial<Record<JobName, number>> = {};
      for (const name of names) out[name] = laneOf(name).active;
      return out;
    },
    async counts() {
      const out: Partial<Record<JobName, QueueCounts>> = {};
      for (const name of names) {
        const l = laneOf(name);
        out[name] = { waiting: l.waiting, active: l.active, delayed: l.delayed };
      }
      return out;
    },
    async stop(timeoutMs) {
      stopping = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      for (const c of controllers) c.abort(new Error('the queue is stopping'));
      await Promise.allSettled([...running]);
    },
  };
}
