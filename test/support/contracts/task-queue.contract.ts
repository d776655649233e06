// The TaskQueue contract: every adapter (in-process now, BullMQ next) runs this suite.
import { afterEach, describe, expect, it } from 'vitest';
import type {
  JobHandlers,
  JobName,
  JobPayloads,
  TaskQueue,
} from '../../../src/ports/task-queue.js';

const noop = async () => {};
/** Handlers doing nothing but those given. */
const handlers = (given: Partial<JobHandlers>): JobHandlers =>
  Object.assign(
    { 'swarm.run': noop, 'swarm.advance': noop, 'agent.run': noop, 'webhook.deliver': noop },
    given,
  );

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export interface QueueFixture {
  /** A new queue with `agent.run` limited to `agentConcurrency` (and `swarm.run` to 2). */
  create(agentConcurrency: number): Promise<TaskQueue>;
}

export function taskQueueContract(label: string, fixture: QueueFixture): void {
  describe(`task queue contract: ${label}`, () => {
    const queues: TaskQueue[] = [];
    const make = async (n: number) => {
      const q = await fixture.create(n);
      queues.push(q);
      return q;
    };
    afterEach(async () => {
      await Promise.all(queues.splice(0).map((q) => q.stop(1000)));
    });

    it('delivers each payload to the handler for its name', async () => {
      const q = await make(2);
      const seen: Array<[JobName, unknown]> = [];
      const all = deferred();
      const record =
        <N extends JobName>(name: N) =>
        async (p: JobPayloads[N]) => {
          seen.push([name, p]);
          if (seen.length === 3) all.resolve();
        };
      q.start(
        handlers({
          'swarm.advance': record('swarm.advance'),
          'agent.run': record('agent.run'),
          'webhook.deliver': record('webhook.deliver'),
        }),
      );
      await q.enqueue('swarm.advance', { swarmId: 's1' });
      await q.enqueue('agent.run', { swarmId: 's1', taskId: 't1' });
      await q.enqueue('webhook.deliver', { swarmId: 's1' });
      await all.promise;
      expect(seen).toEqual(
        expect.arrayContaining([
          ['swarm.advance', { swarmId: 's1' }],
          ['agent.run', { swarmId: 's1', taskId: 't1' }],
          ['webhook.deliver', { swarmId: 's1' }],
        ]),
      );
    });

    it('never runs more agent tasks at once than its concurrency, and serves groups fairly', async () => {
      const q = await make(2);
      let active = 0;
      let peak = 0;
      let busySeen = 0;
      const order: string[] = [];
      const gates: Array<() => void> = [];
      const done = deferred();
      q.start(
        handlers({
          'agent.run': async ({ taskId }) => {
            active++;
            peak = Math.max(peak, active);
            busySeen = Math.max(busySeen, q.busy()['agent.run'] ?? 0);
            order.push(taskId);
            await new Promise<void>((r) => gates.push(r));
            active--;
            if (order.length === 7) done.resolve();
          },
        }),
      );
      for (let i = 0; i < 6; i++)
        await q.enqueue('agent.run', { swarmId: 'big', taskId: `big-${i}` }, { group: 'big' });
      await q.enqueue('agent.run', { swarmId: 'small', taskId: 'small-0' }, { group: 'small' });
      // Release tasks one by one as they start.
      const release = setInterval(() => gates.shift()?.(), 5);
      await done.promise;
      while (gates.length) gates.shift()?.();
      clearInterval(release);
      expect(peak).toBeLessThanOrEqual(2);
      // What the process reports as busy is what runs in it.
      expect(busySeen).toBe(peak);
      const idleBy = Date.now() + 2000;
      while ((q.busy()['agent.run'] ?? 0) > 0 && Date.now() < idleBy)
        await new Promise((r) => setImmediate(r));
      expect(q.busy()['agent.run'] ?? 0).toBe(0);
      // The small swarm's only task is not starved behind the big swarm's queue.
      expect(order.indexOf('small-0')).toBeLessThanOrEqual(3);
    });

    it('does not add a job whose id is already waiting', async () => {
      const q = await make(1);
      const runs: string[] = [];
      const first = deferred();
      const block = deferred();
      const sentinel = deferred();
      q.start(
        handlers({
          'swarm.advance': async ({ swarmId }) => {
            runs.push(swarmId);
            if (swarmId === 'a') {
              first.resolve();
              await block.promise;
            }
            if (swarmId === 'sentinel') sentinel.resolve();
          },
        }),
      );
      await q.enqueue('swarm.advance', { swarmId: 'a' }, { jobId: 'adv-a' });
      await first.promise; // 'a' is active: one more with the same id may wait, not two
      await q.enqueue('swarm.advance', { swarmId: 'a2' }, { jobId: 'adv-a' });
      await q.enqueue('swarm.advance', { swarmId: 'a3' }, { jobId: 'adv-a' });
      await q.enqueue('swarm.advance', { swarmId: 'sentinel' }, { jobId: 'other' });
      block.resolve();
      await sentinel.promise; // queued last: everything before it has run
      expect(runs).toEqual(['a', 'a2', 'sentinel']);
    });

    it('holds an exclusive job id while the job runs, then runs its follow-up', async () => {
      const q = await make(1);
      const runs: number[] = [];
      const first = deferred();
      const block = deferred();
      const second = deferred();
      q.start(
        handlers({
          'swarm.run': async () => {
            const n = runs.push(runs.length + 1);
            if (n === 1) {
              first.resolve();
              await block.promise;
              // After the job has left the queue its id is free: this enqueue is taken.
              return () => q.enqueue('swarm.run', { swarmId: 's' }, { jobId: 'run:s' });
            }
            second.resolve();
          },
        }),
      );
      await q.enqueue('swarm.run', { swarmId: 's' }, { jobId: 'run:s' });
      await first.promise;
      // Running (there is room for a second run): one with the same id is refused.
      await q.enqueue('swarm.run', { swarmId: 's' }, { jobId: 'run:s' });
      await new Promise((r) => setTimeout(r, 100));
      expect(runs).toEqual([1]);
      block.resolve();
      await second.promise;
      await new Promise((r) => setTimeout(r, 100));
      expect(runs).toEqual([1, 2]);
    });

    it('runs a delayed job after its delay, and retries a handler that throws', async () => {
      const q = await make(1);
      const t0 = Date.now();
      const delayed = deferred<number>();
      let attempts = 0;
      const retried = deferred();
      q.start(
        handlers({
          'agent.run': async () => {
            if (++attempts < 3) throw new Error('database hiccup');
            retried.resolve();
          },
          'webhook.deliver': async () => delayed.resolve(Date.now() - t0),
        }),
      );
      await q.enqueue('webhook.deliver', { swarmId: 's' }, { delayMs: 150 });
      await q.enqueue('agent.run', { swarmId: 's', taskId: 't' });
      expect(await delayed.promise).toBeGreaterThanOrEqual(140);
      await retried.promise;
      expect(attempts).toBe(3);
    });

    it('on stop, lets running jobs finish within the timeout, then aborts them', async () => {
      const q = await make(2);
      const started = deferred();
      let sawAbort = false;
      q.start(
        handlers({
          'agent.run': (_p, signal) =>
            new Promise<void>((resolve) => {
              started.resolve();
              signal.addEventListener('abort', () => {
                sawAbort = true;
                resolve();
              });
            }),
        }),
      );
      await q.enqueue('agent.run', { swarmId: 's', taskId: 'forever' });
      await started.promise;
      const t0 = Date.now();
      await q.stop(200);
      expect(sawAbort).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    });
  });
}
