// Where `cfn backup create|list`, `cfn restore` and `cfn maintenance` run: directly on the
// database when this process can open it, or through the running service's admin API when the
// embedded database is held by that service (or when --url says so). Both answer the same calls.
import type { BackupManifest, BackupType } from '../ports/backup.js';
import type { BackupListing, BackupProgress, BackupService } from '../ops/backup-service.js';
import type { MaintenanceReport, MaintenanceSwitchDeps } from '../ops/maintenance-switch.js';
import { maintenanceOff, maintenanceOn, maintenanceStatus } from '../ops/maintenance-switch.js';
import type { RestorePlan, RestoreReport } from '../ops/restore-service.js';
import { CliError, createApiClient, httpError, unreachableError } from './api-client.js';

export interface BackupSession {
  service: BackupService;
  maintenance: MaintenanceSwitchDeps;
  close(): Promise<void>;
}

/** The same calls, answered here or by the service. */
export interface BackupBackend {
  /** `service <url>` or `direct`: said in messages. */
  readonly via: string;
  /** The service's base URL, when it answers the calls. */
  readonly url?: string;
  create(o: { type: BackupType; includeSecrets: boolean }): Promise<BackupManifest>;
  list(type?: BackupType): Promise<BackupListing[]>;
  restorePlan(ref: string): Promise<RestorePlan>;
  restore(ref: string, o: { keepMaintenance: boolean }): Promise<RestoreReport>;
  maintenanceOn(reason: string): Promise<MaintenanceReport>;
  maintenanceOff(): Promise<MaintenanceReport>;
  maintenanceStatus(): Promise<MaintenanceReport>;
  close(): Promise<void>;
}

export function directBackend(s: BackupSession): BackupBackend {
  return {
    via: 'direct',
    create: (o) => s.service.create(o),
    list: (type) => s.service.list(type),
    restorePlan: (ref) => s.service.restorePlan(ref),
    restore: (ref, o) => s.service.restore(ref, o),
    maintenanceOn: (reason) => maintenanceOn(s.maintenance, reason),
    maintenanceOff: () => maintenanceOff(s.maintenance),
    maintenanceStatus: () => maintenanceStatus(s.maintenance),
    close: () => s.close(),
  };
}

/** Reads an NDJSON operation stream: progress lines, then a result or an error. */
async function readOperation<T>(
  res: Response,
  withKey: boolean,
  onProgress?: (p: BackupProgress) => void,
): Promise<T> {
  if (!res.ok || !res.headers.get('content-type')?.includes('application/x-ndjson')) {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    throw httpError(res.status, body, withKey);
  }
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as { progress?: BackupProgress; result?: T; error?: unknown };
      if (msg.progress) onProgress?.(msg.progress);
      else if (msg.error) throw httpError(500, msg, withKey);
      else if ('result' in msg) return msg.result as T;
    }
  }
  throw new CliError(
    'The connection to the service closed before the operation finished: it may still be running. ' +
      'Check `cfn maintenance status` and the service log.',
  );
}

export interface ServiceBackendOptions {
  url: string;
  key: string;
  fetch?: typeof fetch;
  onProgress?: ((p: BackupProgress) => void) | undefined;
  /** Time limit of a call that waits for the replicas (maintenance on/off), and of a dry run. */
  waitMs?: number;
}

const reviveListing = (l: BackupListing): BackupListing => ({
  ...l,
  verifiedAt: l.verifiedAt ? new Date(l.verifiedAt as unknown as string) : null,
});

export function serviceBackend(o: ServiceBackendOptions): BackupBackend {
  const doFetch = o.fetch ?? fetch;
  const base = o.url.replace(/\/+$/, '');
  const quick = createApiClient({ url: base, key: o.key, fetch: doFetch });
  const slow = createApiClient({
    url: base,
    key: o.key,
    fetch: doFetch,
    timeoutMs: o.waitMs ?? 30 * 60_000,
  });
  /** A streamed operation: no overall time limit (the service sends a line every few seconds). */
  async function operation<T>(path: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(base + path, {
        method: 'POST',
        headers: {
          accept: 'application/x-ndjson, application/json',
          authorization: `Bearer ${o.key}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw unreachableError(base, err);
    }
    return readOperation<T>(res, true, o.onProgress);
  }
  return {
    via: `the service at ${base}`,
    url: base,
    create: (b) => operation<BackupManifest>('/api/admin/backups', b),
    list: async (type) =>
      (
        await quick.call<{ items: BackupListing[] }>(
          'GET',
          `/api/admin/backups${type ? `?type=${type}` : ''}`,
        )
      ).items.map(reviveListing),
    restorePlan: (ref) =>
      slow.call<RestorePlan>('POST', '/api/admin/restore', { backup: ref, dryRun: true }),
    restore: (ref, b) =>
      operation<RestoreReport>('/api/admin/restore', {
        backup: ref,
        keepMaintenance: b.keepMaintenance,
      }),
    maintenanceOn: (reason) =>
      slow.call<MaintenanceReport>('PUT', '/api/admin/maintenance', { reason }),
    maintenanceOff: () => slow.call<MaintenanceReport>('DELETE', '/api/admin/maintenance'),
    maintenanceStatus: () => quick.call<MaintenanceReport>('GET', '/api/admin/maintenance'),
    close: async () => {},
  };
}

/** The service's own answer on /health after an operation: healthy, unhealthy or unreachable. */
export async function serviceHealth(
  url: string,
  doFetch: typeof fetch = fetch,
): Promise<{ status: 'healthy' | 'unhealthy' | 'unreachable'; detail: string }> {
  const base = url.replace(/\/+$/, '');
  try {
    const res = await doFetch(`${base}/health`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json().catch(() => ({}))) as { failing?: string[] };
    return res.status === 200
      ? { status: 'healthy', detail: `${base}/health answers 200` }
      : {
          status: 'unhealthy',
          detail: `${base}/health answers ${res.status}${body.failing?.length ? ` (failing: ${body.failing.join(', ')})` : ''}`,
        };
  } catch (err) {
    return { status: 'unreachable', detail: unreachableError(base, err).message };
  }
}
