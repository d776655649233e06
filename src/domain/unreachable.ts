// Whether an error means that a dependency (a database, its replica, Redis) cannot be reached
// right now, rather than a fault of the request or of the code: a refused, reset or timed-out
// connection, or a server shutting down, starting up or full. Callers answer 503, fall back, or
// retry the work as it is.

/** Node's socket errors of a peer that went away or cannot be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/**
 * SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, crash, cannot connect now),
 * 53300 (too many connections).
 */
const SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;
/** What node-postgres and ioredis say when their connection went away (they set no code). */
const MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Stream isn't writeable|Client has encountered a connection error|Connection is closed|Reached the max retries per request limit|Command timed out|the database system is (shutting down|starting up|in recovery mode)/;

export function isUnreachable(err: unknown): boolean {
  for (
    let e: unknown = err, depth = 0;
    e && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATE.test(code))) return true;
    if (MESSAGES.test(String((e as { message?: unknown }).message ?? ''))) return true;
    const errors = (e as { errors?: unknown }).errors; // AggregateError of a multi-address connect
    if (Array.isArray(errors) && errors.some(isUnreachable)) return true;
  }
  return false;
}
