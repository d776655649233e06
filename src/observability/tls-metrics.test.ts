import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { CertTarget } from '../domain/tls-target.js';
import { registerTlsMetrics } from './tls-metrics.js';

const file = (path: string): CertTarget => ({ kind: 'file', path });

/** The value of each series of `name` in the registry's exposition, by its name label. */
async function series(registry: Registry, name: string): Promise<Record<string, number>> {
  const text = await registry.metrics();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}\\{name="([^"]+)"\\} (\\S+)$`, 'gm')))
    out[m[1]!] = Number(m[2]);
  return out;
}

describe('tls_cert_expiry_seconds', () => {
  it('reports seconds left at each scrape, reading again only after maxAgeMs', async () => {
    let t = 1_000_000_000_000;
    const reads: string[] = [];
    const registry = new Registry();
    registerTlsMetrics(registry, {
      watch: [
        { name: 'web', target: file('/web.crt') },
        { name: 'old', target: file('/old.crt') },
      ],
      read: async (target) => {
        reads.push((target as { path: string }).path);
        return {
          notAfter: new Date(
            t + (target.kind === 'file' && target.path === '/old.crt' ? -60_000 : 3_600_000),
          ),
        };
      },
      maxAgeMs: 60_000,
      now: () => t,
    });
    expect(await series(registry, 'tls_cert_expiry_seconds')).toEqual({ web: 3600, old: -60 });
    expect(reads).toHaveLength(2); // one round for the gauge and the counter together
    t += 30_000;
    expect(await series(registry, 'tls_cert_expiry_seconds')).toEqual({ web: 3570, old: -90 });
    expect(reads).toHaveLength(2);
    t += 30_000;
    await registry.metrics();
    expect(reads).toHaveLength(4);
    expect(await series(registry, 'tls_cert_check_errors_total')).toEqual({ web: 0, old: 0 });
  });

  it('drops the series of a certificate it cannot read and counts the failure', async () => {
    let t = 0;
    let failing = false;
    const errors: string[] = [];
    const registry = new Registry();
    registerTlsMetrics(registry, {
      watch: [{ name: 'web', target: file('/web.crt') }],
      read: async () => {
        if (failing) throw new Error('ENOENT');
        return { notAfter: new Date(t + 86_400_000) };
      },
      maxAgeMs: 1000,
      now: () => t,
      onError: (name) => errors.push(name),
    });
    expect(await series(registry, 'tls_cert_expiry_seconds')).toEqual({ web: 86_400 });
    failing = true;
    t += 1000;
    expect(await series(registry, 'tls_cert_expiry_seconds')).toEqual({});
    expect(await series(registry, 'tls_cert_check_errors_total')).toEqual({ web: 1 });
    expect(errors).toEqual(['web']);
    failing = false;
    t += 1000;
    expect(await series(registry, 'tls_cert_expiry_seconds')).toEqual({ web: 86_400 });
    expect(await series(registry, 'tls_cert_check_errors_total')).toEqual({ web: 1 });
  });

  it('gives up on a read that does not answer within timeoutMs, and the scrape answers', async () => {
    const registry = new Registry();
    registerTlsMetrics(registry, {
      watch: [{ name: 'nfs', target: file('/mnt/hung/tls.crt') }],
      read: () => new Promise(() => {}),
      timeoutMs: 50,
    });
    expect(await series(registry, 'tls_cert_expiry_seconds')).toEqual({});
    expect(await series(registry, 'tls_cert_check_errors_total')).toEqual({ nfs: 1 });
  });

  it('registers nothing without certificates to watch', async () => {
    const registry = new Registry();
    registerTlsMetrics(registry, { watch: [], read: () => Promise.reject(new Error('unused')) });
    expect(await registry.metrics()).not.toContain('tls_cert');
  });
});
