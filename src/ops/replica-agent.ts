// This process as a replica: it heartbeats into the registry, and when it finds maintenance on
// (read fresh from the database at every beat, never from the cache alone) it closes its door to
// mutating requests, waits for those in flight, halts its engine and only then records its
// acknowledgement, so a restore that has every acknowledgement knows nothing here writes. When
// maintenance is off again it resumes the engine (which reloads its swarms from the log) and
// opens the door.
import type { Logger } from '../ports/logger.js';
import type { ReplicaBeat, ReplicaHealth, ReplicaRegistry } from '../ports/replica-registry.js';
import type { MaintenanceMode } from './maintenance.js';
import type { RequestGate } from './request-gate.js';

/** A replica not heard from for a day is gone: its row is removed (every few minutes). */
const GONE_AFTER_MS = 24 * 3600_000;
const PRUNE_EVERY_MS = 5 * 60_000;

export interface EngineControl {
  halt(): Promise<void>;
  resume(): Promise<void>;
}

/** Who this replica is (what its heartbeats carry besides its state). */
export type ReplicaIdentity = Omit<ReplicaBeat, 'ackSince' | 'health'>;

export interface ReplicaAgentOptions {
  identity: ReplicaIdentity;
  registry: ReplicaRegistry;
  maintenance: MaintenanceMode;
  gate: RequestGate;
  /** The engine of this process (absent: nothing here runs swarms). */
  engine?: EngineControl | undefined;
  /** The engine was started halted (maintenance was on at start-up). */
  engineHalted?: boolean;
  /** This replica's own health, recorded with each heartbeat. */
  health?: () => Promise<ReplicaHealth>;
  logger: Logger;
  intervalMs: number;
  /** How long to wait for mutating requests in flight before acknowledging (retried next beat). */
  drainTimeoutMs?: number;
}

export interface ReplicaAgent {
  /** One beat now (also what the loop runs); concurrent calls share one beat. */
  checkNow(): Promise<void>;
  /** The first beat, then one every intervalMs. */
  start(): Promise<void>;
  /** Stops the loop and removes this replica from the registry. */
  stop(): Promise<void>;
  /** The maintenance (`since`) acknowledged, if any. */
  readonly acknowledged: string | undefined;
}

export function createReplicaAgent(o: ReplicaAgentOptions): ReplicaAgent {
  const { logger, gate } = o;
  let acknowledged: string | undefined;
  let halted = o.engineHalted ?? false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let beating: Promise<void> | undefined;
  let lastError = '';
  let lastPrune = 0;

  async function health(): Promise<ReplicaHealth | null> {
    if (!o.health) return null;
    try {
      return await o.health();
    } catch {
      return { status: 'error', failing: ['health'] };
    }
  }

  async function halt(since: string): Promise<boolean> {
    gate.close();
    if (!(await gate.drained(o.drainTimeoutMs ?? 10_000))) {
      logger.warn(
        { inFlight: gate.inFlight },
        'maintenance: requests still in flight; acknowledging at a later heartbeat',
      );
      return false;
    }
    if (!halted) {
      await o.engine?.halt();
      halted = true;
    }
    acknowledged = since;
    logger.warn({ since }, 'maintenance acknowledged: engine halted, writes refused');
    return true;
  }

  async function resume(): Promise<void> {
    if (halted) {
      await o.engine?.resume();
      halted = false;
    }
    const was = acknowledged;
    acknowledged = undefined;
    gate.open();
    if (was) logger.warn({ since: was }, 'maintenance over: engine resumed from the log');
  }

  async function beat(): Promise<void> {
    const state = await o.maintenance.fresh();
    if ('locked' in state) {
      // A restore holds the settings table: whatever it is, this replica must not write now.
      gate.close();
      return;
    }
    if (state.enabled) {
      const since = state.since ?? state.reason ?? 'maintenance';
      if (acknowledged !== since) await halt(since);
    } else if (halted || acknowledged || gate.closed) {
      await resume();
    }
    await o.registry.heartbeat({
      ...o.identity,
      ackSince: acknowledged ?? null,
      health: await health(),
    });
    if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      // Rows of processes that died without leaving the registry (SIGKILL, a lost host).
      await o.registry.prune(GONE_AFTER_MS);
    }
  }

  function checkNow(): Promise<void> {
    beating ??= beat()
      .then(() => {
        lastError = '';
      })
      .catch((err: unknown) => {
        // Logged once per kind of failure: a database outage would otherwise log every beat.
        const message = (err as Error).message;
        if (message !== lastError)
          logger.warn(
            { err, cause: (err as { cause?: Error }).cause?.message },
            'replica heartbeat failed; retrying',
          );
        lastError = message;
      })
      .finally(() => {
        beating = undefined;
      });
    return beating;
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      void checkNow().finally(schedule);
    }, o.intervalMs);
    timer.unref();
  }

  return {
    checkNow,
    async start() {
      await checkNow();
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await beating;
      await o.registry.remove(o.identity.id).catch((err: unknown) => {
        logger.warn({ err }, 'could not remove this replica from the registry');
      });
    },
    get acknowledged() {
      return acknowledged;
    },
  };
}
