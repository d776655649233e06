// The TaskQueue contract on the in-process queue and on BullMQ over the real Redis (each BullMQ
// queue under its own key prefix, removed afterwards).
import { afterAll } from 'vitest';
import { createBullmqQueue } from '../../src/adapters/queue/bullmq-queue.js';
import { createInprocQueue } from '../../src/adapters/queue/inproc-queue.js';
import { createLogger } from '../../src/observability/logger.js';
import { captureLogs } from '../support/log-capture.js';
import { connectTestRedis, type TestRedis } from '../support/services.js';
import { taskQueueContract } from '../support/contracts/task-queue.contract.js';

const logger = createLogger({ level: 'error', version: 'test', destination: captureLogs().stream });

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
