// The TaskQueue contract on the in-process queue and on BullMQ over the real Redis (each BullMQ
// queue under its own key prefix, removed afterwards), and BullMQ on a Redis of the test's own that
// is away or stalled: nothing waits for it.
import { afterAll, describe, expect, it } from 'vitest';
import { createBullmqQueue } from '../../src/adapters/queue/bullmq-queue.js';
import { createInprocQueue } from '../../src/adapters/queue/inproc-queue.js';
import { createLogger } from '../../src/observability/logger.js';
import type { JobHandlers } from '../../src/ports/task-queue.js';
import { captureLogs } from '../support/log-capture.js';
import { connectTestRedis, type TestRedis } from '../support/services.js';
import { taskQueueContract } from '../support/contracts/task-queue.contract.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startThrowawayRedis } from '../support/throwaway-redis.js';

const logger = createLogger({ level: 'error', version: 'test', destination: captureLogs().stream });
const noop = async () => {};
const idle: JobHandlers = {
  'swarm.run': noop,
  'swarm.advance': noop,
  'agent.run': noop,
  'webhook.deliver': noop,
};

taskQueueContract('in-process', {
  async create(agentConcurrency) {
    return createInprocQueue({
      concurrency: {
        'swarm.run': 2,
        'agent.run': agentConcurrency,
        'swarm.advance': 1,
        'webhook.deliver': 1,
      },
      logger,
      backoffMs: 10,
    });
  },
});

const redises: TestRedis[] = [];
taskQueueContract('BullMQ', {
  async create(agentConcurrency) {
    const redis = await connectTestRedis();
    redises.push(redis);
    return createBullmqQueue({
      redisUrl: redis.url,
      prefix: redis.prefix.replace(/:$/, ''),
      concurrency: {
        'swarm.run': 2,
        'agent.run': agentConcurrency,
        'swarm.advance': 1,
        'webhook.deliver': 1,
      },
      logger,
      backoffMs: 10,
    });
  },
});

afterAll(async () => {
  await Promise.all(redises.map((r) => r.cleanup()));
});

describe('BullMQ with Redis away or stalled', () => {
  const options = (redisUrl: string) => ({
    redisUrl,
    prefix: 'cfn',
    concurrency: { 'swarm.run': 1, 'webhook.deliver': 1 },
    jobs: ['swarm.run', 'webhook.deliver'] as const,
    logger,
    commandTimeoutMs: 300,
  });

  it('is made without Redis, and refuses jobs and counts instead of waiting for it', async () => {
    const dead = await startThrowawayRedis();
    await dead.stop();
    const queue = createBullmqQueue(options(dead.url));
    try {
      await expect(
        queue.enqueue('swarm.run', { swarmId: 's1' }, { jobId: 'run:s1' }),
      ).rejects.toThrow();
      await expect(queue.counts()).rejects.toThrow();
    } finally {
      await queue.stop(100);
    }
  });

  it('stops while its workers have never reached Redis, and while Redis stalls', async () => {
    const dead = await startThrowawayRedis();
    await dead.stop();
    const never = createBullmqQueue(options(dead.url));
    never.start(idle);
    await never.stop(100); // resolves: the workers' connections are given up
    const redis = await startThrowawayRedis();
    const proxy = await startTcpProxy('127.0.0.1', redis.port);
    const stalled = createBullmqQueue(options(`redis://127.0.0.1:${proxy.port}`));
    stalled.start(idle);
    await stalled.enqueue('webhook.deliver', { swarmId: 's0' }, { jobId: 'webhook:s0' });
    proxy.stall();
    try {
      await stalled.stop(100);
    } finally {
      await proxy.close();
      await redis.stop();
    }
  });

  it('refuses a job after the command timeout while Redis is stalled, and takes it once it answers', async () => {
    const redis = await startThrowawayRedis();
    const proxy = await startTcpProxy('127.0.0.1', redis.port);
    const queue = createBullmqQueue(options(`redis://127.0.0.1:${proxy.port}`));
    try {
      await queue.enqueue('webhook.deliver', { swarmId: 's0' }, { jobId: 'webhook:s0' });
      proxy.stall();
      await expect(
        queue.enqueue('webhook.deliver', { swarmId: 's1' }, { jobId: 'webhook:s1' }),
      ).rejects.toThrow(/timed out/);
      proxy.unstall();
      await queue.enqueue('webhook.deliver', { swarmId: 's2' }, { jobId: 'webhook:s2' });
      expect((await queue.counts())['webhook.deliver']?.waiting).toBeGreaterThanOrEqual(2);
    } finally {
      await queue.stop(100);
      await proxy.close();
      await redis.stop();
    }
  });
});
