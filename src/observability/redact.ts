// Secrets never reach a log line: known secret fields are censored by pino's redaction,
// credentials embedded in URLs (postgres://user:pass@host) and the values of query parameters
// (`?cursor=…&token=…`, in a logged URL or inside any message) are scrubbed from any string, and a
// request body an error carries is dropped.
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

export const CENSOR = '[REDACTED]';

/** A parameter name worth keeping; anything else (a bare value, an odd or long name) is censored. */
const PARAM_NAME = /^[A-Za-z0-9_.~%[\]-]{1,64}$/;
const MAX_PATH = 1024;

/** `a=1&b=2` -> `a=[REDACTED]&b=[REDACTED]`; a part without `=` (`?s3cr3t`) is censored whole. */
export function redactQueryString(query: string): string {
  return query
    .split(/[&;]/)
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq > 0 ? part.slice(0, eq) : '';
      return PARAM_NAME.test(name) ? `${name}=${CENSOR}` : CENSOR;
    })
    .join('&');
}

/**
 * A request target as logs may show it: the path (credentials scrubbed, bounded), the query's
 * parameter names with every value censored, no fragment. Works on any string, however malformed.
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const target = hash < 0 ? url : url.slice(0, hash);
  const q = target.indexOf('?');
  let path = redactUrlCredentials(q < 0 ? target : target.slice(0, q));
  if (path.length > MAX_PATH) path = `${path.slice(0, MAX_PATH)}…`;
  const query = q < 0 ? '' : redactQueryString(target.slice(q + 1));
  return query ? `${path}?${query}` : path;
}

/** A path followed by a query, inside free text (error messages, SDK details, Redis keys). */
const URL_WITH_QUERY = /(\/[^\s?#"'<>]*)\?([^\s#"'<>]+)/g;

export function redactQueryValues(text: string): string {
  return text.replace(
    URL_WITH_QUERY,
    (_m, path: string, query: string) => `${path}?${redactQueryString(query)}`,
  );
}

/** Every scrub that applies to free text: URL credentials, query values, SQL parameters. */
export const scrubString = (s: string) => {
  let out = s.includes('@') ? redactUrlCredentials(s) : s;
  if (out.includes('?')) out = redactQueryValues(out);
  return redactQueryParams(out);
};

/** Scrubs URL credentials from every string inside a log object (bounded depth; cycles safe). */
export function scrubObject(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (!value || typeof value !== 'object' || depth > 6) return value;
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrubObject(v, depth + 1, seen));
  // pino's own serializer keeps the class name, code and cause chain; its strings are scrubbed.
  // body-parser attaches the raw request body to its errors: request bodies are never logged.
  if (value instanceof Error) {
    const { body: _body, ...serialized } = stdSerializers.err(value) as Record<string, unknown>;
    return scrubObject(serialized, depth + 1, seen);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubObject(v, depth + 1, seen);
  return out;
}
