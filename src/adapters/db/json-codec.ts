// Any string survives the database. PostgreSQL refuses U+0000 in text and jsonb and rejects (jsonb)
// or mangles (text) unpaired surrogates, yet model answers, tool output and command output may hold
// both. The durable records (event data, journal responses, task outputs) are JSON objects: their
// offending strings are escaped reversibly and the object is marked, so reads restore them exactly.
// Projections kept in text columns get a lossy but storable form instead (the log stays exact).

/** Marks an object whose strings were escaped (a key no event or response of ours uses). */
export const ESCAPED = '$cfnEscaped';

/** A noncharacter: never in text a model or program means, and storable by PostgreSQL. */
const ESC = '\uffff';
const NEEDS_ESCAPE =
  // eslint-disable-next-line no-control-regex -- NUL is what must be found
  /[\u0000\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/**
 * In serialised JSON: an escaped NUL or a lone surrogate (JSON.stringify \u-escapes both, in
 * lower case).
 */
const SERIALISED_NEEDS = /\\u0000|\\ud[89a-f][0-9a-f]{2}/;
const ESCAPE_SEQUENCE = /\uffff(?:0|!|u([0-9a-f]{4}))/g;

function escapeString(s: string): string {
  return s.replace(NEEDS_ESCAPE, (c) =>
    c === '\u0000' ? `${ESC}0` : c === ESC ? `${ESC}!` : `${ESC}u${c.charCodeAt(0).toString(16)}`,
  );
}

function unescapeString(s: string): string {
  if (!s.includes(ESC)) return s;
  return s.replace(ESCAPE_SEQUENCE, (seq: string, hex: string | undefined) =>
    hex ? String.fromCharCode(parseInt(hex, 16)) : seq === `${ESC}0` ? '\u0000' : ESC,
  );
}

const needsEscape = (s: string) => s.includes('\u0000') || s.includes(ESC) || !s.isWellFormed();

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[f(k)] = mapStrings(v, f);
    return out;
  }
  return value;
}

function hasUnstorable(value: unknown): boolean {
  if (typeof value === 'string') return needsEscape(value);
  if (Array.isArray(value)) return value.some(hasUnstorable);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).some(([k, v]) => needsEscape(k) || hasUnstorable(v));
  return false;
}

/** True when JSON text (as JSON.stringify writes it) may hold something the database refuses. */
export const mayNeedEscaping = (json: string): boolean =>
  (json.includes('\\u') && SERIALISED_NEEDS.test(json)) || json.includes(ESC);

/** The object as stored: unchanged, or with its strings escaped and the mark set. */
export function escapeObject<T extends object>(value: T): T {
  if (!hasUnstorable(value)) return value;
  return { ...(mapStrings(value, escapeString) as T), [ESCAPED]: 1 };
}

/** The object as it was before escapeObject. */
export function unescapeObject<T>(value: T): T {
  if (value === null || typeof value !== 'object' || !(ESCAPED in value)) return value;
  const { [ESCAPED]: _mark, ...rest } = value as Record<string, unknown>;
  return mapStrings(rest, unescapeString) as T;
}

/** A storable, lossy form for text columns: NUL and unpaired surrogates become U+FFFD. */
export function storableText<T extends string | null>(s: T): T {
  if (s === null || !(s.includes('\u0000') || !s.isWellFormed())) return s;
  return s.toWellFormed().replaceAll('\u0000', '\ufffd') as T;
}

/** Storable, lossy: every string of a JSON value (for projections such as feedback lists). */
export function storableJson<T>(value: T): T {
  return hasUnstorable(value) ? (mapStrings(value, (s) => storableText(s)) as T) : value;
}
