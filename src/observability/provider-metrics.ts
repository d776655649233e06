// The flow control of each LLM provider, read at scrape time (src/providers/flow-control.ts):
// requests in flight and the adaptive limit over them, requests waiting, the backoff a 429 started
// and the 429s seen — what says "the provider is throttling us" before tasks slow down or fail.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FlowStats, Provider } from '../ports/provider.js';

export function registerProviderMetrics(registry: Registry, providers: readonly Provider[]): void {
  const flows = providers.flatMap((p) =>
    p.flowStats ? [{ name: p.name, stats: p.flowStats }] : [],
  );
  const registers = [registry];
  const gauge = (name: string, help: string, value: (s: FlowStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['provider'] as const,
      registers,
      collect() {
        for (const f of flows) this.set({ provider: f.name }, value(f.stats()));
      },
    });
  gauge(
    'llm_requests_in_flight',
    'Requests to the LLM provider waiting for their answer',
    (s) => s.inFlight,
  );
  gauge(
    'llm_concurrency_limit',
    'Requests in flight the provider is allowed now: maxConcurrency, halved on a 429, grown back on success',
    (s) => s.limit,
  );
  gauge(
    'llm_requests_queued',
    'Requests waiting for a slot, a requests/tokens-per-minute token or the end of a 429 backoff',
    (s) => s.queued,
  );
  gauge(
    'llm_backoff_seconds',
    'Time left of the backoff the last 429 started',
    (s) => s.backoffMs / 1000,
  );
  new Counter({
    name: 'llm_rate_limited_total',
    help: '429 answers from the LLM provider (each request is sent again after the shared backoff)',
    labelNames: ['provider'] as const,
    registers,
    collect() {
      this.reset();
      for (const f of flows) this.inc({ provider: f.name }, f.stats().rateLimited);
    },
  });
}
