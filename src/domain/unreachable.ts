// Whether an error means that a dependency (a database, its replica, Redis) cannot be reached
// right now, rather than a fault of the request or of the code: a refused, reset or timed-out
// connection, or a server shutting down or starting up. Callers answer 503 or fall back.

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);
/** SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, crash, cannot connect now). */
const SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123])$/;
const MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Stream isn't writeable|Command timed out/;

export function isUnreachable(err: unknown): boolean {
  for (
    let e: unknown = err, depth = 0;
    e && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATE.test(code))) return true;
    if (MESSAGES.test(String((e as { message?: unknown }).message ?? ''))) return true;
  }
  return false;
}
