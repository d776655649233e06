// The typed job catalog: for each job name, the schema its payload must match and its retry
// policy. Queue adapters validate every payload they run against it (a job from an older or a
// foreign producer fails with a reason instead of reaching a handler malformed).
import { z } from 'zod';
import type { JobName, JobPayloads } from './task-queue.js';

export interface JobDefinition<N extends JobName> {
  payload: z.ZodType<JobPayloads[N]>;
  /** Attempts in all for a handler that throws (a database hiccup), backoff doubling each time. */
  attempts: number;
  backoffMs: number;
  /** The job id is held while the job runs, not only while it waits (one runner at a time). */
  exclusive?: boolean;
}

const swarmId = z.string().min(1).max(100);

export const JOB_CATALOG: { readonly [N in JobName]: JobDefinition<N> } = {
  'swarm.run': {
    payload: z.object({ swarmId }).strict(),
    attempts: 5,
    backoffMs: 100,
    exclusive: true,
  },
  'swarm.advance': {
    payload: z.object({ swarmId }).strict(),
    attempts: 5,
    backoffMs: 100,
  },
  'agent.run': {
    payload: z.object({ swarmId, taskId: z.string().min(1).max(200) }).strict(),
    attempts: 5,
    backoffMs: 100,
  },
  'webhook.deliver': {
    payload: z.object({ swarmId, attempt: z.number().int().min(0).optional() }).strict(),
    attempts: 5,
    backoffMs: 100,
  },
};

export const JOB_NAMES = Object.keys(JOB_CATALOG) as JobName[];
