// The TaskQueue contract on the in-process queue (BullMQ runs the same suite in the distributed profile).
import { createInprocQueue } from '../../src/adapters/queue/inproc-queue.js';
import { createLogger } from '../../src/observability/logger.js';
import { captureLogs } from '../support/log-capture.js';
import { taskQueueContract } from '../support/contracts/task-queue.contract.js';

const logger = createLogger({ level: 'error', version: 'test', destination: captureLogs().stream });

taskQueueContract('in-process', {
  async create(agentConcurrency) {
    return createInprocQueue({
      concurrency: { 'agent.run': agentConcurrency, 'swarm.advance': 1, 'webhook.deliver': 1 },
      logger,
      backoffMs: 10,
    });
  },
});
