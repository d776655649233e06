// dependency_up{dependency}: 1 when the dependency's health probe succeeds, 0 when it fails,
// measured at scrape time by the same probes /health runs (so DatabaseDown needs no exporter);
// with Redis configured also redis_up, the same value under the name the operations kit uses.
import { Gauge, type Registry } from 'prom-client';
import type { HealthService } from './health.js';

export function registerDependencyMetrics(
  registry: Registry,
  health: HealthService,
  dependencies: readonly string[],
): void {
  if (dependencies.includes('redis')) {
    new Gauge({
      name: 'redis_up',
      help: 'Whether Redis answers PING at scrape time (1 up, 0 down)',
      registers: [registry],
      async collect() {
        // Concurrent reports share one round of probes.
        const report = await health.report();
        this.set(report.checks.redis?.status === 'ok' ? 1 : 0);
      },
    });
  }
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
