// dependency_up{dependency}: 1 when the dependency's health probe succeeds, 0 when it fails,
// measured at scrape time by the same probes /health runs (so DatabaseDown needs no exporter).
import { Gauge, type Registry } from 'prom-client';
import type { HealthService } from './health.js';

export function registerDependencyMetrics(
  registry: Registry,
  health: HealthService,
  dependencies: readonly string[],
): void {
  const gauge = new Gauge({
    name: 'dependency_up',
    help: 'Whether each dependency answers its health probe at scrape time (1 up, 0 down)',
    labelNames: ['dependency'] as const,
    registers: [registry],
    async collect() {
      const report = await health.report();
      for (const name of dependencies) {
        gauge.set({ dependency: name }, report.checks[name]?.status === 'ok' ? 1 : 0);
      }
    },
  });
}
