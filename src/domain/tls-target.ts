// Where a certificate to check is: a file, or a TLS server as host:port. Parsed the same way by
// `cfn cert check` and by CFN_TLS_WATCH (the service's list of certificates to watch).

export type CertTarget =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'tls'; readonly host: string; readonly port: number };

export interface WatchedCertificate {
  /** The `name` label of the metrics: given as `name=target`, else the target as written. */
  readonly name: string;
  readonly target: CertTarget;
}

/** A host name or IPv4 address and a port; `[v6]:port` for IPv6. A path never matches (no `/`). */
const HOST_PORT =
  /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)):(\d{1,5})$/;

/** The longest watch list: every entry is a label value of two metrics. */
export const MAX_WATCHED_CERTIFICATES = 50;

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

/**
 * `host:port` (or `[v6]:port`) is a TLS server; anything else is a file path. A file whose name
 * has a colon is given with a directory: `./localhost:443`.
 */
export function parseCertTarget(text: string): CertTarget | { error: string } {
  const s = text.trim();
  if (s === '') return { error: 'a file or host:port' };
  const m = HOST_PORT.exec(s);
  // A colon and no slash is meant as host:port: a typo there must not become a file name.
  if (!m && s.includes(':') && !s.includes('/'))
    return { error: 'host:port (a port between 1 and 65535), or a file path' };
  if (!m) return { kind: 'file', path: s };
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return { error: 'a port between 1 and 65535' };
  return { kind: 'tls', host: m[1] ?? m[2]!, port };
}

export function describeCertTarget(t: CertTarget): string {
  return t.kind === 'file' ? t.path : `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}

/**
 * The watch list: comma-separated targets, each optionally `name=target`. Names (given or the
 * target itself) must be unique; at most MAX_WATCHED_CERTIFICATES entries. An error says what
 * was expected of which entry (by position), never quoting it, as configuration errors do.
 */
export function parseWatchList(text: string): WatchedCertificate[] | { error: string } {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length > MAX_WATCHED_CERTIFICATES)
    return { error: `expected at most ${MAX_WATCHED_CERTIFICATES} certificates` };
  const out: WatchedCertificate[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = `entry ${i + 1}`;
    const eq = entry.indexOf('=');
    const named = eq > 0 && !entry.slice(0, eq).includes('/');
    const name = named ? entry.slice(0, eq).trim() : entry;
    if (named && !NAME.test(name))
      return {
        error: `${at}: expected a name of up to 63 letters, digits, _, . or - starting with a letter`,
      };
    const target = parseCertTarget(named ? entry.slice(eq + 1) : entry);
    if ('error' in target) return { error: `${at}: expected ${target.error}` };
    if (out.some((w) => w.name === name))
      return { error: `${at}: expected a name no other entry has (name=target)` };
    out.push({ name, target });
  }
  return out;
}
