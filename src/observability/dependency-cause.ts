// What a failed dependency check reports: the cause an operator acts on (refused, timed out, host
// not found, authentication, a missing database), not the wrapper of the query that failed
// (Drizzle's "Failed query: select 1 params: "). Never a parameter value: only the driver's own
// message, the address it tried and the SQLSTATE.

interface Described {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
}

/** SQLSTATEs an operator fixes outside the service, with what they mean. */
const SQLSTATE: Record<string, string> = {
  '28P01': 'authentication failed',
  '28000': 'not authorised',
  '3D000': 'database missing',
  '53300': 'too many connections',
  '57P01': 'server shutting down',
  '57P02': 'server crashed',
  '57P03': 'server not accepting connections yet',
};

const NODE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found (DNS)',
  EAI_AGAIN: 'host name lookup failed for now (DNS)',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted (self-signed chain)',
};

const text = (v: unknown) => (typeof v === 'string' ? v : '');

/** The errors of a cause chain, outermost first (an AggregateError's first error stands for it). */
function chain(err: unknown): Described[] {
  const out: Described[] = [];
  for (let e: unknown = err; e && typeof e === 'object' && out.length < 6;) {
    const d = e as Described;
    out.push(d);
    const errors = Array.isArray(d.errors) ? (d.errors as unknown[]) : [];
    e = d.cause ?? errors[0];
  }
  return out;
}

function where(e: Described): string {
  const host = text(e.address) || text(e.hostname);
  if (!host) return '';
  return typeof e.port === 'number' ? ` (${host}:${e.port})` : ` (${host})`;
}

export function dependencyCause(err: unknown): string {
  if (!(err instanceof Error) && (typeof err !== 'object' || err === null)) return String(err);
  const errors = chain(err);
  // The innermost error that says what happened (a driver's or the socket's own).
  for (const e of [...errors].reverse()) {
    const code = text(e.code);
    const message = text(e.message);
    if (code && SQLSTATE[code]) return `${SQLSTATE[code]}: ${message} (SQLSTATE ${code})`;
    if (code && NODE[code]) return `${NODE[code]}${where(e)}`;
  }
  const innermost = errors.at(-1)!;
  return text(innermost.message) || text(errors[0]!.message) || String(text(innermost.code) || err);
}
