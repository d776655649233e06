// `cfn maintenance on|off|status` (and their admin API routes): switching maintenance is only half
// of it; on waits until every live replica has acknowledged (it writes nothing any more), off until
// each has resumed, and both say which replicas did and how the service is.
import type { ReplicaRegistry } from '../ports/replica-registry.js';
import type { MaintenanceMode, MaintenanceState } from './maintenance.js';
import {
  awaitAcknowledgements,
  awaitResumed,
  serviceStatus,
  type ServiceStatus,
} from './replica-roll-call.js';

export interface MaintenanceSwitchDeps {
  maintenance: MaintenanceMode;
  replicas: ReplicaRegistry;
  staleMs: number;
  ackTimeoutMs: number;
  beatLocal?: (() => Promise<void>) | undefined;
}

export interface MaintenanceReport extends MaintenanceState {
  service: ServiceStatus;
}

function roll(deps: MaintenanceSwitchDeps) {
  return {
    registry: deps.replicas,
    staleMs: deps.staleMs,
    timeoutMs: deps.ackTimeoutMs,
    ...(deps.beatLocal ? { beatLocal: deps.beatLocal } : {}),
  };
}

/**
 * Maintenance on (or the one already on), then every live replica's acknowledgement. A replica
 * that does not answer in time fails this with its name; maintenance stays on.
 */
export async function maintenanceOn(
  deps: MaintenanceSwitchDeps,
  reason: string,
): Promise<MaintenanceReport> {
  const prior = await deps.maintenance.status();
  const state = prior.enabled ? prior : await deps.maintenance.enable(reason);
  await awaitAcknowledgements(state.since ?? '', roll(deps));
  return { ...state, service: await serviceStatus(state.since ?? '', roll(deps), true) };
}

/** Maintenance off, then (bounded) until every live replica has resumed. */
export async function maintenanceOff(deps: MaintenanceSwitchDeps): Promise<MaintenanceReport> {
  const prior = await deps.maintenance.status();
  await deps.maintenance.disable();
  return { enabled: false, service: await awaitResumed(prior.since ?? '', roll(deps)) };
}

export async function maintenanceStatus(deps: MaintenanceSwitchDeps): Promise<MaintenanceReport> {
  const state = await deps.maintenance.status();
  return { ...state, service: await serviceStatus(state.since ?? '', roll(deps), state.enabled) };
}
