// Builds the engine from configuration: agents, providers, pricing, workspaces, the queue and
// bus, metrics; starts consuming jobs and resumes swarms left unfinished by a previous process.
import fs from 'node:fs';
import os from 'node:os';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config/load-config.js';
import type { Database } from '../adapters/db/database.js';
import { createPgSwarmStore } from '../adapters/db/swarm-store.js';
import { createInprocBus } from '../adapters/bus/inproc-bus.js';
import { createInprocQueue } from '../adapters/queue/inproc-queue.js';
import { createRoutedQueue } from '../adapters/queue/routed-queue.js';
import { createHttpWebhookTransport } from '../adapters/webhook/http-webhook.js';
import { createFsWorkspace } from '../adapters/workspace/fs-workspace.js';
import { executeToolCall, toolsForAgent } from '../adapters/workspace/workspace-tools.js';
import { BUILTIN_AGENTS_DIR, loadAgents } from '../agents/load-agents.js';
import type { AgentDefinition } from '../domain/agent-definition.js';
import { createSwarmEngine, type SwarmEngine } from '../engine/swarm-engine.js';
import { registerProviderMetrics } from '../observability/provider-metrics.js';
import { createEngineMetrics } from '../observability/engine-metrics.js';
import type { Metrics } from '../observability/metrics.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Logger } from '../ports/logger.js';
import type { CommandSandbox } from '../ports/sandbox.js';
import type { SwarmStore } from '../ports/swarm-store.js';
import { JOB_NAMES } from '../ports/job-catalog.js';
import type { JobHandler, JobHandlers, JobName, TaskQueue } from '../ports/task-queue.js';
import type { MaintenanceMode } from '../ops/maintenance.js';
import { startRecoveryLoop, type RecoveryLoop } from './recovery-loop.js';
import {
  costUsd,
  DEFAULT_PRICES,
  mergePriceTables,
  parsePriceTable,
} from '../providers/pricing.js';
import {
  createProviderRegistry,
  parseProviderConfigs,
  type ProviderConfig,
  type ProviderRegistry,
} from '../providers/registry.js';

export interface EngineRuntime {
  engine: SwarmEngine;
  store: SwarmStore;
  queue: TaskQueue;
  bus: EventBus;
  providers: ProviderRegistry;
  agents: () => ReadonlyMap<string, AgentDefinition>;
  /** Maintenance was on at start-up: the engine starts halted (the replica agent resumes it). */
  startedHalted: boolean;
  stop(timeoutMs: number): Promise<void>;
}

/** Jobs wait while maintenance is on (a restore replaces the database under them). */
export function pausedDuring(
  maintenance: MaintenanceMode,
  handlers: JobHandlers,
  pollMs = 250,
): JobHandlers {
  const wait = async (signal: AbortSignal) => {
    while (!signal.aborted && (await maintenance.current()).enabled) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  };
  const wrap =
    <N extends JobName>(h: JobHandler<N>): JobHandler<N> =>
    async (payload, signal, job) => {
      await wait(signal);
      return h(payload, signal, job);
    };
  return Object.fromEntries(
    JOB_NAMES.map((name) => [name, wrap(handlers[name] as JobHandler<JobName>)]),
  ) as JobHandlers;
}

function readStructured(file: string, what: string): unknown {
  try {
    return parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

/** Providers from CFN_PROVIDERS_FILE plus the shortcuts ANTHROPIC_*, OPENAI_*, CFN_CLI_COMMAND. */
export function providerConfigs(config: Config): ProviderConfig[] {
  const e = config.engine;
  const fromFile = e.providersFile
    ? parseProviderConfigs(
        (readStructured(e.providersFile, 'CFN_PROVIDERS_FILE') as { providers?: unknown })
          ?.providers ?? [],
      )
    : [];
  const names = new Set(fromFile.map((p) => p.name));
  const extra: ProviderConfig[] = [];
  const maxRetries = e.llmMaxRetries;
  const limits = e.llmLimits;
  if (e.anthropic.apiKey && !names.has('anthropic')) {
    extra.push({
      name: 'anthropic',
      kind: 'anthropic',
      apiKey: e.anthropic.apiKey,
      baseUrl: e.anthropic.baseUrl,
      defaultModel: e.anthropic.model,
      maxRetries,
      ...limits,
    } as ProviderConfig);
  }
  if ((e.openai.apiKey || e.openai.baseUrl) && !names.has('openai')) {
    extra.push({
      name: 'openai',
      kind: 'openai',
      apiKey: e.openai.apiKey,
      baseUrl: e.openai.baseUrl,
      defaultModel: e.openai.model,
      maxRetries,
      ...limits,
    } as ProviderConfig);
  }
  if (e.cliCommand && !names.has('cli')) {
    extra.push({
      name: 'cli',
      kind: 'cli',
      command: [...e.cliCommand],
      env: { ...e.cliEnv },
      ...limits,
    } as ProviderConfig);
  }
  return parseProviderConfigs(
    [...fromFile, ...extra].map((c) => JSON.parse(JSON.stringify(c)) as unknown),
  );
}

export async function createEngineRuntime(
  config: Config,
  deps: {
    database: Database;
    logger: Logger;
    metrics: Metrics;
    /** Consume jobs here (false: an API replica; workers elsewhere run them). */
    runsJobs: boolean;
    /** While maintenance is on (a restore), jobs wait before they start. */
    maintenance?: MaintenanceMode;
    /** Where agent commands and command validators run (src/main/sandbox-runtime.ts). */
    sandbox: CommandSandbox;
  },
): Promise<EngineRuntime> {
  const { logger } = deps;
  const e = config.engine;

  const loaded = await loadAgents({ builtinDir: BUILTIN_AGENTS_DIR, userDir: e.agentsDir });
  for (const p of loaded.problems)
    logger.warn({ source: p.source, reason: p.reason }, 'agent definition skipped');
  for (const o of loaded.overrides)
    logger.info({ agent: o.name, source: o.source }, 'built-in agent overridden');
  const agents = loaded.agents;

  const providers = await createProviderRegistry(providerConfigs(config), e.defaultProvider, {
    logger,
    // A provider's requests in flight follow the agents that may run at once, unless it says less.
    maxConcurrency: e.maxConcurrentAgents,
  });
  if (!providers.list().length) {
    logger.warn(
      'no LLM provider configured: swarms are refused until ANTHROPIC_API_KEY, OPENAI_API_KEY/OPENAI_BASE_URL, CFN_CLI_COMMAND or CFN_PROVIDERS_FILE is set',
    );
  }
  for (const agent of agents.values()) {
    if (agent.provider && !providers.has(agent.provider)) {
      logger.warn(
        { agent: agent.name, provider: agent.provider, source: agent.source },
        'agent names a provider that is not configured: swarms using it are refused',
      );
    }
  }
  const prices = e.pricesFile
    ? mergePriceTables(
        DEFAULT_PRICES,
        parsePriceTable(readStructured(e.pricesFile, 'CFN_PRICES_FILE')),
      )
    : DEFAULT_PRICES;

  const store = createPgSwarmStore(deps.database.db, deps.database.readDb);
  // With Redis, swarm runs, webhooks and live signals are shared by every replica: a worker takes
  // a swarm's `swarm.run` job and runs its steps and agent tasks on its own in-process queue.
  const shared = config.redis.url;
  const concurrency = {
    'swarm.run': e.workerMaxSwarms,
    'agent.run': e.maxConcurrentAgents,
    'swarm.advance': 32,
    'webhook.deliver': 4,
  };
  const sharedJobs: JobName[] = ['swarm.run', 'webhook.deliver'];
  const local = createInprocQueue({
    concurrency,
    logger,
    // Embedded, every swarm runs here: its `swarm.run` jobs too.
    jobs: shared ? JOB_NAMES.filter((n) => !sharedJobs.includes(n)) : JOB_NAMES,
  });
  const queue = shared
    ? createRoutedQueue(
        local,
        (await import('../adapters/queue/bullmq-queue.js')).createBullmqQueue({
          redisUrl: shared,
          prefix: config.redis.prefix,
          concurrency,
          jobs: sharedJobs,
          logger,
          lockDurationMs: e.queueLockMs,
          reconnectMaxMs: config.redis.reconnectMaxMs,
          commandTimeoutMs: config.redis.commandTimeoutMs,
        }),
        sharedJobs,
      )
    : local;
  const bus = shared
    ? await (
        await import('../adapters/bus/redis-bus.js')
      ).createRedisBus({
        redisUrl: shared,
        prefix: config.redis.prefix,
        logger,
        reconnectMaxMs: config.redis.reconnectMaxMs,
        commandTimeoutMs: config.redis.commandTimeoutMs,
      })
    : createInprocBus();
  const observer = createEngineMetrics(deps.metrics.registry, {
    countRunningTasks: () => store.countRunningTasks(),
    taskOutcomesSince: (since) => store.taskOutcomesSince(since),
    queue,
    successRateWindowMinutes: e.successRateWindowMinutes,
  });
  registerProviderMetrics(deps.metrics.registry, providers.list());
  const toolAllowList = e.toolCommands ? [...e.toolCommands] : undefined;
  const engine = createSwarmEngine({
    store,
    queue,
    bus,
    agents: () => agents,
    providers,
    pricing: (model, usage) => costUsd(prices, model, usage).usd,
    workspaces: {
      open: (root, opts) =>
        createFsWorkspace(root, { sandbox: deps.sandbox, network: opts?.network === true }),
      toolsFor: (tools) => toolsForAgent(tools, toolAllowList),
      execute: (ws, call, opts) => executeToolCall(ws, call, { ...opts, allowList: toolAllowList }),
    },
    logger,
    limits: {
      maxToolRounds: e.maxToolRounds,
      defaultMaxTokens: e.agentMaxTokens,
      defaultTimeoutMs: e.agentTimeoutMs,
      commandTimeoutMs: e.commandTimeoutMs,
    },
    observer,
    workerId: `${os.hostname()}:${process.pid}`,
    shared: Boolean(shared),
    leaseMs: e.queueLockMs,
    webhooks: { transport: createHttpWebhookTransport(), secret: e.webhookSecret },
  });
  let recovery: RecoveryLoop | undefined;
  let startedHalted = false;
  if (deps.runsJobs) {
    queue.start(
      deps.maintenance ? pausedDuring(deps.maintenance, engine.handlers) : engine.handlers,
    );
    // Started during maintenance (a restore): nothing is loaded or written until it is over
    // (recovery finds nothing to do while the engine is halted; resuming recovers).
    const m = await deps.maintenance?.fresh().catch(() => undefined);
    if (m && ('locked' in m || m.enabled)) {
      await engine.halt();
      startedHalted = true;
    }
    recovery = await startRecoveryLoop({
      recover: (o) => engine.recover(o),
      logger,
      // Redis keeps jobs in memory: after it restarts, the sweep finds the swarms whose jobs it lost.
      sweepMs: shared ? e.recoveryIntervalMs : undefined,
      maxRetryMs: e.recoveryIntervalMs,
    });
  }

  return {
    engine,
    store,
    queue,
    bus,
    providers,
    agents: () => agents,
    startedHalted,
    async stop(timeoutMs) {
      recovery?.stop();
      await queue.stop(timeoutMs);
      engine.stop();
      await bus.close();
    },
  };
}
