// tls_cert_expiry_seconds{name}: seconds until each watched certificate's notAfter (negative once
// expired), and tls_cert_check_errors_total{name}: checks that could not read it. Read when
// scraped, at most once per `maxAgeMs` (a scrape every 15 s must not open a TLS connection to
// every server each time); the seconds are computed at the scrape itself. A certificate that
// could not be read at the last check has no expiry series at all (never a stale or made-up
// value) and its error counter grows. Labels: the names of CFN_TLS_WATCH, no others.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CertTarget, WatchedCertificate } from '../domain/tls-target.js';

export interface TlsMetricsOptions {
  watch: readonly WatchedCertificate[];
  /** Reads a certificate's notAfter; rejects when it cannot (bounded by its own timeout). */
  read(target: CertTarget): Promise<{ notAfter: Date }>;
  /** How long one round of reads serves the scrapes after it. */
  maxAgeMs?: number;
  /** Longest wait for one read (a file on a hung network mount must not hold every scrape). */
  timeoutMs?: number;
  now?: () => number;
  onError?(name: string, err: unknown): void;
}

export function registerTlsMetrics(registry: Registry, options: TlsMetricsOptions): void {
  const { watch, read, maxAgeMs = 60_000, timeoutMs = 8000, now = Date.now } = options;
  if (watch.length === 0) return;
  const notAfter = new Map<string, Date>();
  let readAt = -Infinity;
  let pending: Promise<void> | undefined;

  const errors = new Counter({
    name: 'tls_cert_check_errors_total',
    help: 'Checks of a watched certificate (CFN_TLS_WATCH) that could not read it, by name',
    labelNames: ['name'] as const,
    registers: [registry],
    async collect() {
      await refresh();
    },
  });
  for (const w of watch) errors.inc({ name: w.name }, 0);

  function bounded<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }

  // Concurrent scrapes share one round; a round reads every certificate at once.
  function refresh(): Promise<void> {
    if (now() - readAt < maxAgeMs) return Promise.resolve();
    pending ??= Promise.all(
      watch.map(async (w) => {
        try {
          notAfter.set(w.name, (await bounded(read(w.target))).notAfter);
        } catch (err) {
          notAfter.delete(w.name);
          errors.inc({ name: w.name });
          options.onError?.(w.name, err);
        }
      }),
    ).then(() => {
      readAt = now();
      pending = undefined;
    });
    return pending;
  }

  new Gauge({
    name: 'tls_cert_expiry_seconds',
    help:
      'Seconds until a watched certificate (CFN_TLS_WATCH) expires, negative once expired, by name; ' +
      'no series while it cannot be read (see tls_cert_check_errors_total)',
    labelNames: ['name'] as const,
    registers: [registry],
    async collect() {
      await refresh();
      this.reset();
      const t = now();
      for (const w of watch) {
        const end = notAfter.get(w.name);
        if (end) this.set({ name: w.name }, Math.round((end.getTime() - t) / 1000));
      }
    },
  });
}
