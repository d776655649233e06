// The restore's side of the replica registry: wait until every live replica has acknowledged a
// maintenance (it writes nothing any more), and afterwards until each has resumed, then say how
// the service really is: healthy, unhealthy (which replica, which check), or stopped.
import { AppError } from '../domain/errors.js';
import type { ReplicaRecord, ReplicaRegistry } from '../ports/replica-registry.js';

export interface RollCallOptions {
  registry: ReplicaRegistry;
  /** A replica heard from within this long is alive. */
  staleMs: number;
  timeoutMs: number;
  pollMs?: number;
  /** Beats this process's own replica at once (when the restore runs inside the service). */
  beatLocal?: () => Promise<void>;
  onWaiting?: (waitingFor: ReplicaRecord[]) => void;
}

export interface ReplicaView {
  id: string;
  role: string;
  host: string;
  pid: number;
  heartbeatAgeMs: number;
  health: 'ok' | 'degraded' | 'error' | 'unknown';
  failing?: string[];
  resumed: boolean;
}

export interface ServiceStatus {
  status: 'healthy' | 'unhealthy' | 'stopped' | 'maintenance';
  detail: string;
  replicas: ReplicaView[];
}

const describe = (r: ReplicaRecord) =>
  `${r.id} (${r.role} on ${r.host}, pid ${r.pid}, last heartbeat ${(r.ageMs / 1000).toFixed(1)} s ago)`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function view(r: ReplicaRecord, since: string): ReplicaView {
  return {
    id: r.id,
    role: r.role,
    host: r.host,
    pid: r.pid,
    heartbeatAgeMs: r.ageMs,
    health: r.health?.status ?? 'unknown',
    ...(r.health?.failing?.length ? { failing: r.health.failing } : {}),
    resumed: r.ackSince !== since,
  };
}

/**
 * Resolves with the replicas that acknowledged `since`: every replica alive at any point of the
 * wait must (one that stops answering stays required: it may be paused, not gone); one that left
 * the registry (a graceful stop) is not waited for. Throws naming those that did not answer.
 */
export async function awaitAcknowledgements(
  since: string,
  o: RollCallOptions,
): Promise<ReplicaRecord[]> {
  const deadline = Date.now() + o.timeoutMs;
  const required = new Map<string, ReplicaRecord>();
  for (;;) {
    await o.beatLocal?.();
    const rows = await o.registry.list();
    const present = new Set(rows.map((r) => r.id));
    for (const id of required.keys()) if (!present.has(id)) required.delete(id);
    for (const r of rows) if (r.ageMs <= o.staleMs || required.has(r.id)) required.set(r.id, r);
    const missing = [...required.values()].filter((r) => r.ackSince !== since);
    if (!missing.length) return [...required.values()];
    if (Date.now() >= deadline) {
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        `${missing.length} replica(s) did not acknowledge maintenance within ${Math.round(o.timeoutMs / 1000)} s: ` +
          `${missing.map(describe).join('; ')}. A paused or hung process must be stopped or resumed first; ` +
          `one that has died drops out once its heartbeat is older than CFN_REPLICA_STALE_MS (${Math.round(o.staleMs / 1000)} s).`,
        { details: { replicas: missing.map((r) => r.id) } },
      );
    }
    o.onWaiting?.(missing);
    await sleep(o.pollMs ?? 200);
  }
}

/** The service as the registry shows it, right now. */
export async function serviceStatus(
  since: string,
  o: Pick<RollCallOptions, 'registry' | 'staleMs'>,
  maintenanceOn: boolean,
): Promise<ServiceStatus> {
  const alive = (await o.registry.list()).filter((r) => r.ageMs <= o.staleMs);
  const replicas = alive.map((r) => view(r, since));
  if (!alive.length) {
    return {
      status: 'stopped',
      detail:
        `stopped: no replica has sent a heartbeat in the last ${Math.round(o.staleMs / 1000)} s. ` +
        'Start the service (`cfn start`, or `cfn serve` and `cfn worker`): it runs the restored swarms.',
      replicas,
    };
  }
  if (maintenanceOn) {
    return {
      status: 'maintenance',
      detail: `in maintenance: ${alive.length} replica(s) halted; \`cfn maintenance off\` resumes them.`,
      replicas,
    };
  }
  const waiting = replicas.filter((r) => !r.resumed);
  const failing = replicas.filter((r) => r.health !== 'ok');
  if (waiting.length || failing.length) {
    const parts = [
      ...waiting.map((r) => `${r.id} has not resumed`),
      ...failing.map(
        (r) =>
          `${r.id} reports ${r.failing?.length ? `failing: ${r.failing.join(', ')}` : `health ${r.health}`}`,
      ),
    ];
    return { status: 'unhealthy', detail: `unhealthy: ${parts.join('; ')}.`, replicas };
  }
  return {
    status: 'healthy',
    detail: `healthy: ${alive.length} replica(s) running, each passing its health checks.`,
    replicas,
  };
}

/** After maintenance went off: waits (bounded) until every live replica has resumed. */
export async function awaitResumed(since: string, o: RollCallOptions): Promise<ServiceStatus> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    await o.beatLocal?.();
    const s = await serviceStatus(since, o, false);
    const done = s.replicas.every((r) => r.resumed && r.health !== 'unknown');
    if (done || Date.now() >= deadline) return s;
    await sleep(o.pollMs ?? 200);
  }
}
