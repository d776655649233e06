// Secrets never reach a log line: known secret fields are censored by pino's redaction, and
// credentials embedded in URLs (postgres://user:pass@host) are scrubbed from any string.
import { stdSerializers } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'authorization',
  'apiKey',
  'key',
  'secret',
  'password',
  'token',
  '*.apiKey',
  '*.key',
  '*.secret',
  '*.password',
  '*.token',
  '*.authorization',
];

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(?::([^\s/@]*))?@/gi;

export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, (_m, scheme: string, user: string, pass?: string) =>
    pass === undefined ? `${scheme}${user}@` : `${scheme}${user}:[REDACTED]@`,
  );
}

/** Query errors quote their parameters (key hashes, user data): keep the SQL, drop the values. */
export function redactQueryParams(text: string): string {
  return text.replace(/\nparams: [\s\S]*$/, '\nparams: [REDACTED]');
}

const scrubString = (s: string) => redactQueryParams(s.includes('@') ? redactUrlCredentials(s) : s);

/** Scrubs URL credentials from every string inside a log object (bounded depth; cycles safe). */
export function scrubObject(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (!value || typeof value !== 'object' || depth > 6) return value;
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrubObject(v, depth + 1, seen));
  // pino's own serializer keeps the class name, code and cause chain; its strings are scrubbed.
  if (value instanceof Error) return scrubObject(stdSerializers.err(value), depth + 1, seen);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubObject(v, depth + 1, seen);
  return out;
}
