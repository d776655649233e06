// The distributed TaskQueue: BullMQ on Redis, one BullMQ queue per job name so each has its own
// concurrency per worker process. Fairness across groups (swarms) comes from priorities: the n-th
// job of a group gets priority n, so equal-numbered jobs of different swarms alternate. A job id
// dedupes only while a job waits (one more may queue behind a running one, as the in-process queue
// does), except for exclusive job names, whose id is BullMQ's own job id and so is held until the
// job is gone. Stalled jobs of a dead worker are moved back by BullMQ's stalled checker.
import { randomUUID } from 'node:crypto';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { isUnreachable } from '../../domain/unreachable.js';
import type { Logger } from '../../ports/logger.js';
import { failFastOptions, redisBackoff } from '../redis/redis-client.js';
import { JOB_CATALOG, JOB_NAMES } from '../../ports/job-catalog.js';
import {
  JobDeferredError,
  type EnqueueOptions,
  type JobFollowUp,
  type JobHandler,
  type JobName,
  type JobPayloads,
  type QueueCounts,
  type TaskQueue,
} from '../../ports/task-queue.js';

export interface BullmqQueueOptions {
  redisUrl: string;
  /** Prefix of every Redis key (queues, fairness counters, dedup keys). */
  prefix: string;
  /** Jobs of each name this process runs at once. */
  concurrency: Partial<Record<JobName, number>>;
  /** The job names this queue carries (default: all). */
  jobs?: readonly JobName[];
  logger: Logger;
  /** How long a worker holds a job before it counts as stalled (a dead worker's jobs move back). */
  lockDurationMs?: number;
  /** Overrides the catalog's backoff (tests). */
  backoffMs?: number;
  /** Longest wait between Redis reconnect attempts. */
  reconnectMaxMs?: number;
  /** Longest wait for a reply when producing or counting jobs (a stalled Redis fails them). */
  commandTimeoutMs?: number;
}

/** How long closing waits for Redis once the running jobs are done or aborted. */
const CLOSE_GRACE_MS = 1000;

/** Whether `p` settled within `ms` (a rejection counts as settled: closing went as far as it could). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}

/** BullMQ's highest priority number. */
const MAX_PRIORITY = 2_097_152;
const FAIRNESS_TTL_S = 24 * 3600;
const DEDUP_TTL_MS = 10 * 60_000;

/** Deletes the dedup key only if it still names this job (a newer waiting job keeps its own). */
const RELEASE_DEDUP = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

interface Envelope {
  payload: unknown;
  /** The dedup key to release when the job starts. */
  dedup?: string;
}

const queueName = (name: JobName) => `cfn-${name.replace('.', '-')}`;

export function createBullmqQueue(options: BullmqQueueOptions): TaskQueue {
  const { prefix, logger } = options;
  const names = options.jobs ?? JOB_NAMES;
  const retryStrategy = redisBackoff(options.reconnectMaxMs);
  // Workers block on their own connections; BullMQ requires maxRetriesPerRequest: null for them.
  const connect = () => new Redis(options.redisUrl, { maxRetriesPerRequest: null, retryStrategy });
  // Producing and counting fail after a reconnect attempt while Redis is away and after a
  // timeout while it is stalled, so a request that queues a job, or a metrics scrape, answers
  // instead of hanging.
  const client = new Redis(
    options.redisUrl,
    failFastOptions({
      maxBackoffMs: options.reconnectMaxMs,
      commandTimeoutMs: options.commandTimeoutMs,
      offlineQueue: true,
    }),
  );
  client.on('error', (err: Error) =>
    logger.warn({ err: { message: err.message } }, 'queue redis error'),
  );
  const queues = new Map<JobName, Queue>();
  for (const name of names) {
    // Not waiting for Redis to be ready (nor asking its version, which would need it): a queue
    // made while Redis is away works once it answers, and adding a job meanwhile fails (above).
    const queue = new Queue(queueName(name), {
      connection: client,
      prefix,
      skipWaitingForReady: true,
      skipVersionCheck: true,
    });
    queue.on('error', () => undefined); // the shared client reports its errors once, above
    queues.set(name, queue);
  }
  const workers: Worker[] = [];
  const workerClients: Redis[] = [];
  const controllers = new Set<AbortController>();
  const busy = Object.fromEntries(names.map((n) => [n, 0])) as Partial<Record<JobName, number>>;
  /** Follow-ups of jobs whose handler returned, run once BullMQ has removed the job. */
  const followUps = new Map<string, JobFollowUp>();
  /** Jobs whose lost lock was reported. */
  const lockLost = new Set<string>();
  let stopping = false;

  async function priorityFor(name: JobName, group: string): Promise<number> {
    const key = `${prefix}:fair:${name}:${group}`;
    const res = await client.multi().incr(key).expire(key, FAIRNESS_TTL_S).exec();
    const n = Number(res?.[0]?.[1] ?? 1);
    return Math.min(n, MAX_PRIORITY);
  }

  function processor<N extends JobName>(name: N, handler: JobHandler<N>) {
    return async (job: Job<Envelope>, token?: string, bullSignal?: AbortSignal) => {
      const { payload, dedup } = job.data;
      if (dedup) await client.eval(RELEASE_DEDUP, 1, dedup, job.id ?? '');
      const parsed = JOB_CATALOG[name].payload.safeParse(payload);
      if (!parsed.success) {
        logger.error({ job: name, payload, issues: parsed.error.issues }, 'malformed job dropped');
        return;
      }
      const controller = new AbortController();
      const onAbort = () => controller.abort(bullSignal?.reason);
      bullSignal?.addEventListener('abort', onAbort, { once: true });
      controllers.add(controller);
      busy[name] = (busy[name] ?? 0) + 1;
      let deferred: JobDeferredError | undefined;
      try {
        const next = await handler(parsed.data as JobPayloads[N], controller.signal, {
          redelivered: job.attemptsMade > 0 || (job.stalledCounter ?? 0) > 0,
        });
        if (typeof next === 'function' && job.id && !controller.signal.aborted)
          followUps.set(job.id, next);
      } catch (err) {
        if (!(err instanceof JobDeferredError)) throw err;
        deferred = err;
      } finally {
        busy[name] = (busy[name] ?? 1) - 1;
        controllers.delete(controller);
        bullSignal?.removeEventListener('abort', onAbort);
      }
      if ((controller.signal.aborted && stopping) || deferred) {
        // Stopped mid-job, or not possible yet: give the job back so this or another worker runs
        // it later (without using an attempt).
        await job.moveToDelayed(Date.now() + (deferred?.delayMs ?? 0), token);
        throw new DelayedError();
      }
    };
  }

  return {
    async enqueue(name, payload, opts: EnqueueOptions = {}) {
      const queue = queues.get(name);
      if (!queue) throw new Error(`this queue does not carry ${name} jobs`);
      const def = JOB_CATALOG[name];
      // BullMQ refuses ':' in its job ids.
      const exclusive = def.exclusive && opts.jobId ? opts.jobId.replaceAll(':', '-') : undefined;
      const id = exclusive ?? randomUUID();
      let dedup: string | undefined;
      if (opts.jobId && !exclusive) {
        dedup = `${prefix}:dedup:${name}:${opts.jobId}`;
        const set = await client.set(dedup, id, 'PX', DEDUP_TTL_MS, 'NX');
        if (set === null) return; // one is waiting already
      }
      const envelope: Envelope = { payload, ...(dedup ? { dedup } : {}) };
      await queue.add(name, envelope, {
        jobId: id,
        priority: await priorityFor(name, opts.group ?? name),
        ...(opts.delayMs && opts.delayMs > 0 ? { delay: opts.delayMs } : {}),
        attempts: def.attempts,
        backoff: { type: 'exponential', delay: options.backoffMs ?? def.backoffMs },
        removeOnComplete: true,
        // A failed exclusive job would hold its id: it goes, and the recovery sweep queues it anew.
        removeOnFail: exclusive ? true : { age: 24 * 3600, count: 1000 },
      });
    },

    start(handlers) {
      for (const name of names) {
        const connection = connect();
        connection.on('error', () => undefined); // reported through the worker's own 'error'
        workerClients.push(connection);
        const worker = new Worker(
          queueName(name),
          processor(name, handlers[name] as JobHandler<typeof name>),
          {
            connection,
            prefix,
            concurrency: options.concurrency[name] ?? 1,
            lockDuration: options.lockDurationMs ?? 30_000,
            stalledInterval: Math.max(1000, Math.floor((options.lockDurationMs ?? 30_000) / 2)),
          },
        );
        // BullMQ reports a lost lock on every renewal attempt; once per job is enough. The job's
        // handler goes on: what guards a swarm is its lease in the database, not this lock.
        worker.on('lockRenewalFailed', (ids: string[]) => {
          for (const id of ids) {
            if (lockLost.has(id)) continue;
            lockLost.add(id);
            logger.warn(
              { job: name, jobId: id },
              'the queue lock of a running job could not be renewed (Redis restarted or unreachable); it goes on under its lease',
            );
          }
        });
        worker.on('completed', (job) => {
          if (job.id) lockLost.delete(job.id);
          const next = job.id ? followUps.get(job.id) : undefined;
          if (!next) return;
          followUps.delete(job.id!);
          next().catch((err: unknown) =>
            logger.warn({ err, job: name }, 'follow-up of a job failed'),
          );
        });
        worker.on('failed', (job, err) => {
          if (job?.id) followUps.delete(job.id);
          if (job?.id) lockLost.delete(job.id);
          if (err instanceof DelayedError) return;
          logger.warn({ err, job: name, attempt: job?.attemptsMade }, 'job failed');
        });
        // While Redis is away every reconnect attempt is an error: the first one is said, the
        // rest are not until the connection is ready again.
        let away = false;
        connection.on('ready', () => (away = false));
        worker.on('error', (err) => {
          if (err.message.startsWith('could not renew lock for job')) return; // said once above
          if (away) return;
          away = isUnreachable(err);
          logger.warn({ err, job: name }, 'queue worker error');
        });
        workers.push(worker);
      }
    },

    busy: () => ({ ...busy }),

    async counts() {
      const out: Partial<Record<JobName, QueueCounts>> = {};
      for (const name of names) {
        const c = await queues
          .get(name)!
          .getJobCounts('waiting', 'prioritized', 'active', 'delayed');
        out[name] = {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
        };
      }
      return out;
    },

    async stop(timeoutMs) {
      stopping = true;
      const closing = Promise.all(workers.map((w) => w.close()));
      if (!(await within(closing, timeoutMs))) {
        for (const c of controllers) c.abort(new Error('the queue is stopping'));
        if (!(await within(closing, CLOSE_GRACE_MS))) {
          // Redis is away: a worker's close would wait for it forever.
          for (const c of workerClients) c.disconnect();
          await within(Promise.all(workers.map((w) => w.close(true))), CLOSE_GRACE_MS);
        }
      }
      await within(Promise.all([...queues.values()].map((q) => q.close())), CLOSE_GRACE_MS);
      await Promise.all(
        [client, ...workerClients].map(async (c) => {
          if (!(await within(c.quit(), CLOSE_GRACE_MS))) c.disconnect();
        }),
      );
    },
  };
}
