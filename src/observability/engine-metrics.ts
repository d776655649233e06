// Business metrics of the guide, derived from the durable record: counters move only after the
// events they count are persisted, and gauges read the database and the queue at scrape time.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SwarmEvent } from '../domain/cfn/spec.js';
import type { SwarmState } from '../domain/cfn/state.js';
import type { EngineObserver } from '../engine/ports.js';
import type { TaskQueue } from '../ports/task-queue.js';
import { JOB_NAMES } from '../ports/job-catalog.js';

export interface EngineMetricSources {
  countRunningTasks(): Promise<number>;
  taskOutcomesSince(since: Date): Promise<{ succeeded: number; failed: number }>;
  queue: TaskQueue;
  successRateWindowMinutes: number;
}

export function createEngineMetrics(
  registry: Registry,
  sources: EngineMetricSources,
): EngineObserver {
  const registers = [registry];
  new Gauge({
    name: 'active_agents_count',
    help: 'Agent tasks running now across the deployment (from the agent_tasks table)',
    registers,
    async collect() {
      // An unreachable database must not break the whole scrape (DatabaseDown needs it): report
      // "unknown" (NaN) rather than a made-up count.
      this.set(await sources.countRunningTasks().catch(() => Number.NaN));
    },
  });
  new Gauge({
    name: 'agent_success_rate',
    help: `Share of agent tasks that succeeded over the last CFN_SUCCESS_RATE_WINDOW_MINUTES (NaN when none finished)`,
    registers,
    async collect() {
      const since = new Date(Date.now() - sources.successRateWindowMinutes * 60_000);
      const outcomes = await sources.taskOutcomesSince(since).catch(() => undefined);
      if (!outcomes) return this.set(Number.NaN);
      const { succeeded, failed } = outcomes;
      this.set(succeeded + failed === 0 ? Number.NaN : succeeded / (succeeded + failed));
    },
  });
  new Gauge({
    name: 'workers_busy',
    help: 'Jobs this process is running now, by job name (its share of queue_depth{state="active"})',
    labelNames: ['queue'] as const,
    registers,
    collect() {
      for (const [queue, n] of Object.entries(sources.queue.busy())) this.set({ queue }, n);
    },
  });
  new Gauge({
    name: 'queue_depth',
    help: 'Jobs in the task queue by job name and state',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      // A scrape must answer while the queue's Redis is away: unknown counts are NaN.
      let timer: NodeJS.Timeout | undefined;
      const counts = await Promise.race([
        sources.queue.counts(),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), 1000);
        }),
      ])
        .catch(() => undefined)
        .finally(() => clearTimeout(timer));
      if (!counts) {
        for (const queue of JOB_NAMES)
          for (const state of ['waiting', 'active', 'delayed'])
            this.set({ queue, state }, Number.NaN);
        return;
      }
      for (const [queue, c] of Object.entries(counts)) {
        this.set({ queue, state: 'waiting' }, c.waiting);
        this.set({ queue, state: 'active' }, c.active);
        this.set({ queue, state: 'delayed' }, c.delayed);
      }
    },
  });
  const swarmOps = new Counter({
    name: 'swarm_operations_total',
    help: 'Swarm operations persisted, by strategy, operation (create, cancel, complete) and resulting status',
    labelNames: ['strategy', 'operation', 'status'] as const,
    registers,
  });
  const tasks = new Counter({
    name: 'agent_tasks_total',
    help: 'Agent tasks finished, by agent and outcome',
    labelNames: ['agent', 'outcome'] as const,
    registers,
  });
  const taskDuration = new Histogram({
    name: 'agent_task_duration_seconds',
    help: 'Wall time of agent tasks, by agent',
    labelNames: ['agent'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600],
    registers,
  });
  const llmTokens = new Counter({
    name: 'llm_tokens_total',
    help: 'LLM tokens used, by provider, model and kind (input, output)',
    labelNames: ['provider', 'model', 'kind'] as const,
    registers,
  });
  const llmCost = new Counter({
    name: 'llm_cost_usd_total',
    help: 'LLM cost in USD from the configured price table, by provider and model',
    labelNames: ['provider', 'model'] as const,
    registers,
  });
  const iterations = new Histogram({
    name: 'cfn_iterations',
    help: 'CFN Loop iterations used by finished swarms',
    buckets: [1, 2, 3, 4, 5, 7, 10, 15],
    registers,
  });
  const gate = new Counter({
    name: 'cfn_gate_results_total',
    help: 'Confidence gate evaluations by result',
    labelNames: ['result'] as const,
    registers,
  });
  const consensus = new Histogram({
    name: 'cfn_consensus_score',
    help: 'Validator consensus scores (mean validator score per evaluation)',
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1],
    registers,
  });
  for (const result of ['pass', 'fail']) gate.inc({ result }, 0);

  return {
    eventsCommitted(state: SwarmState, events: readonly SwarmEvent[]) {
      const { spec } = state;
      for (const e of events) {
        switch (e.type) {
          case 'swarm.created':
            swarmOps.inc({ strategy: spec.strategy, operation: 'create', status: 'queued' });
            break;
          case 'swarm.cancel_requested':
            swarmOps.inc({ strategy: spec.strategy, operation: 'cancel', status: 'requested' });
            break;
          case 'swarm.completed':
            swarmOps.inc({ strategy: spec.strategy, operation: 'complete', status: e.status });
            iterations.observe(state.iterations.length);
            break;
          case 'gate.evaluated':
            gate.inc({ result: e.passed ? 'pass' : 'fail' });
            break;
          case 'consensus.evaluated':
            consensus.observe(e.score);
            break;
          default:
            break;
        }
      }
    },
    taskFinished(agent, outcome, seconds) {
      tasks.inc({ agent, outcome });
      taskDuration.observe({ agent }, seconds);
    },
    llmCall(provider, model, usage, costUsd) {
      llmTokens.inc({ provider, model, kind: 'input' }, usage.inputTokens);
      llmTokens.inc({ provider, model, kind: 'output' }, usage.outputTokens);
      llmCost.inc({ provider, model }, costUsd);
    },
  };
}
