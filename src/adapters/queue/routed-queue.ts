// One TaskQueue over two: the job names in `sharedJobs` go to the shared queue (BullMQ: any
// worker may take them), the rest stay in this process (the steps and agent tasks of the swarms
// this worker runs). Counts and busy figures are the two queues' together.
import type { JobName, TaskQueue } from '../../ports/task-queue.js';

export function createRoutedQueue(
  local: TaskQueue,
  shared: TaskQueue,
  sharedJobs: readonly JobName[],
): TaskQueue {
  const pick = (name: JobName) => (sharedJobs.includes(name) ? shared : local);
  return {
    enqueue: (name, payload, options) => pick(name).enqueue(name, payload, options),
    start(handlers) {
      local.start(handlers);
      shared.start(handlers);
    },
    async counts() {
      const [a, b] = await Promise.all([local.counts(), shared.counts()]);
      return { ...a, ...b };
    },
    busy: () => ({ ...local.busy(), ...shared.busy() }),
    async stop(timeoutMs) {
      // Shared jobs first: a swarm run that has to give its swarm back stops its own local work
      // (its agent tasks are left open for the next runner) before its job goes back to Redis.
      await shared.stop(timeoutMs);
      await local.stop(Math.min(timeoutMs, 1000));
    },
  };
}
