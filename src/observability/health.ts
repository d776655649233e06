// Health of the service from real probes: each dependency checked concurrently with a timeout;
// concurrent callers share one round of checks so frequent probing stays cheap. A failing
// dependency the service can run without (Redis, a read replica) degrades it; readiness is lost
// only to a required one (the primary database), maintenance or shutdown.
import type { HealthProbe } from '../ports/health-check.js';
import { dependencyCause } from './dependency-cause.js';
import type { SandboxStatus } from '../ports/sandbox.js';

export type CheckStatus = 'ok' | 'error';

export interface CheckResult {
  status: CheckStatus;
  latencyMs: number;
  error?: string;
}

export interface HealthReport {
  /** `degraded`: only checks the service can run without failed; `error`: a required one did. */
  status: 'ok' | 'degraded' | 'error';
  version: string;
  uptimeSeconds: number;
  checks: Record<string, CheckResult>;
  /** Names of the checks that failed (absent when healthy). */
  failing?: string[];
  /** Those of them the service keeps serving without (absent when none). */
  degraded?: string[];
  /** Where agent commands run; informational, never part of `status` or readiness. */
  sandbox?: SandboxStatus;
}

export interface HealthServiceOptions {
  version: string;
  probes: readonly HealthProbe[];
  timeoutMs: number;
  startedAt?: number;
  now?: () => number;
  /** A reason not to take traffic (e.g. maintenance mode), or undefined when ready. */
  notReadyReason?: () => Promise<string | undefined>;
  /** The command sandbox's state (fixed at start), reported beside the checks. */
  sandbox?: SandboxStatus | undefined;
}

export interface HealthService {
  report(): Promise<HealthReport>;
  /** Readiness: every required check ok, not in maintenance and not shutting down. */
  readiness(): Promise<HealthReport & { ready: boolean; reason?: string }>;
  setShuttingDown(): void;
  readonly shuttingDown: boolean;
}

async function runProbe(probe: HealthProbe, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.check(controller.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    ]);
    return { status: 'ok', latencyMs: round(performance.now() - started) };
  } catch (err) {
    return {
      status: 'error',
      latencyMs: round(performance.now() - started),
      error: dependencyCause(err),
    };
  } finally {
    clearTimeout(timer);
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export function createHealthService(options: HealthServiceOptions): HealthService {
  const now = options.now ?? Date.now;
  const startedAt = options.startedAt ?? now();
  let inFlight: Promise<HealthReport> | undefined;
  let shuttingDown = false;
  const optional = new Set(options.probes.filter((p) => p.required === false).map((p) => p.name));

  async function check(): Promise<HealthReport> {
    const results = await Promise.all(
      options.probes.map(async (p) => [p.name, await runProbe(p, options.timeoutMs)] as const),
    );
    const checks = Object.fromEntries(results);
    const failing = results.filter(([, r]) => r.status !== 'ok').map(([name]) => name);
    const degraded = failing.filter((name) => optional.has(name));
    return {
      status: failing.length > degraded.length ? 'error' : degraded.length ? 'degraded' : 'ok',
      version: options.version,
      uptimeSeconds: Math.floor((now() - startedAt) / 1000),
      checks,
      ...(failing.length ? { failing } : {}),
      ...(degraded.length ? { degraded } : {}),
      // The API works without commands: a missing sandbox is said, not counted as a failure.
      ...(options.sandbox ? { sandbox: options.sandbox } : {}),
    };
  }

  const service: HealthService = {
    report() {
      inFlight ??= check().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    async readiness() {
      const report = await service.report();
      if (shuttingDown) return { ...report, ready: false, reason: 'shutting down' };
      const gate = await options.notReadyReason?.();
      if (gate) return { ...report, ready: false, reason: gate };
      if (report.status === 'error') {
        const required = report.failing?.filter((name) => !optional.has(name));
        return { ...report, ready: false, reason: `failing: ${required?.join(', ')}` };
      }
      return { ...report, ready: true };
    },
    setShuttingDown() {
      shuttingDown = true;
    },
    get shuttingDown() {
      return shuttingDown;
    },
  };
  return service;
}
