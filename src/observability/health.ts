// Health of the service from real probes: each dependency checked concurrently with a timeout;
// concurrent callers share one round of checks so frequent probing stays cheap.
import type { HealthProbe } from '../ports/health-check.js';
import type { SandboxStatus } from '../ports/sandbox.js';

export type CheckStatus = 'ok' | 'error';

export interface CheckResult {
  status: CheckStatus;
  latencyMs: number;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'error';
  version: string;
  uptimeSeconds: number;
  checks: Record<string, CheckResult>;
  /** Names of the checks that failed (absent when healthy). */
  failing?: string[];
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
  /** Readiness: healthy and not shutting down (nor, later, in maintenance). */
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
      error: err instanceof Error ? err.message || err.name : String(err),
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

  async function check(): Promise<HealthReport> {
    const results = await Promise.all(
      options.probes.map(async (p) => [p.name, await runProbe(p, options.timeoutMs)] as const),
    );
    const checks = Object.fromEntries(results);
    const failing = results.filter(([, r]) => r.status !== 'ok').map(([name]) => name);
    return {
      status: failing.length ? 'error' : 'ok',
      version: options.version,
      uptimeSeconds: Math.floor((now() - startedAt) / 1000),
      checks,
      ...(failing.length ? { failing } : {}),
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
      if (report.status !== 'ok') {
        return { ...report, ready: false, reason: `failing: ${report.failing?.join(', ')}` };
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
