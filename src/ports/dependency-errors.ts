// Errors that mean a dependency (PostgreSQL, Redis) is away for a while, not that what was asked is
// wrong: a connection refused, reset or timed out, a server shutting down or starting up, a
// deadlock or serialisation failure. Work that meets one is worth retrying as it is.

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
 * PostgreSQL SQLSTATEs: 08xxx connection exception; 57P01-57P03 shutdown, crash, cannot connect
 * now; 53300 too many connections; 40001 serialisation failure; 40P01 deadlock.
 */
const RETRYABLE_SQLSTATE = /^(08...|57P0[123]|53300|40001|40P01)$/;

/** What node-postgres and ioredis say when their connection went away (they set no code). */
const GONE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Stream isn't writeable|Client has encountered a connection error|Connection is closed|Reached the max retries per request limit|Command timed out|the database system is (shutting down|starting up|in recovery mode)/;

export function isDependencyUnavailable(err: unknown): boolean {
  for (
    let e: unknown = err, depth = 0;
    e && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || RETRYABLE_SQLSTATE.test(code)))
      return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && GONE_MESSAGES.test(message)) return true;
    const errors = (e as { errors?: unknown }).errors; // AggregateError of a multi-address connect
    if (Array.isArray(errors) && errors.some(isDependencyUnavailable)) return true;
  }
  return false;
}
