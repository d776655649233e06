// Where work waits to run: the in-process queue (embedded) and BullMQ (distributed) both implement
// this. Jobs are small ({swarmId, taskId}); the durable record lives in the database, so a job that
// runs twice does no harm (handlers are idempotent).

export interface JobPayloads {
  /**
   * Run a swarm here until it has to wait (distributed mode): the process holding this job is the
   * swarm's only runner, and runs its steps and agent tasks on its own in-process queue.
   */
  'swarm.run': { swarmId: string };
  /** Decide and carry out a swarm's next step. */
  'swarm.advance': { swarmId: string };
  /** Run one agent task (an LLM conversation or a command validator). */
  'agent.run': { swarmId: string; taskId: string };
  /** Deliver the completion webhook of a swarm. */
  'webhook.deliver': { swarmId: string; attempt?: number };
}

export type JobName = keyof JobPayloads;

/**
 * Thrown by a handler that cannot do its job yet (the swarm's lease is held elsewhere, or the
 * database is away): the queue runs the job again after `delayMs`, without counting an attempt.
 */
export class JobDeferredError extends Error {
  constructor(
    readonly delayMs: number,
    reason: string,
  ) {
    super(reason);
    this.name = 'JobDeferredError';
  }
}

export interface JobInfo {
  /**
   * This job ran before and did not finish: its handler threw, or the worker holding it died
   * (BullMQ's stalled-job check gave it back). False for a first delivery, including a duplicate.
   */
  redelivered: boolean;
}

/**
 * Work a handler leaves for after its job has left the queue (an exclusive job's id is free again):
 * looking for what arrived while it ran, whose enqueue the held id refused.
 */
export type JobFollowUp = () => Promise<void>;

export type JobHandler<N extends JobName> = (
  payload: JobPayloads[N],
  signal: AbortSignal,
  job: JobInfo,
) => Promise<void | JobFollowUp>;

export type JobHandlers = { [N in JobName]: JobHandler<N> };

export interface EnqueueOptions {
  /** Jobs of one group are served fairly against other groups (the swarm id). */
  group?: string;
  delayMs?: number;
  /**
   * A job with the same id already waiting is not added twice. For an exclusive job name (see the
   * job catalog) the id is held while the job runs too: at most one such job exists at a time.
   */
  jobId?: string;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
}

export interface TaskQueue {
  enqueue<N extends JobName>(
    name: N,
    payload: JobPayloads[N],
    options?: EnqueueOptions,
  ): Promise<void>;
  /** Starts consuming the job names this queue carries; one handler per job name is required. */
  start(handlers: JobHandlers): void;
  /** Counts of the job names this queue carries. */
  counts(): Promise<Partial<Record<JobName, QueueCounts>>>;
  /** Jobs running in this process now, by name (what this worker is busy with). */
  busy(): Partial<Record<JobName, number>>;
  /** Stops taking jobs; waits for running ones up to `timeoutMs`, then aborts them. */
  stop(timeoutMs: number): Promise<void>;
}
