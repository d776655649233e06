// Finds the strings of a request that the database cannot hold faithfully: PostgreSQL refuses
// NUL (U+0000) in text and jsonb, and an unpaired UTF-16 surrogate is not Unicode at all (jsonb
// refuses its escape, text gets it replaced). Such input is refused at the edge, naming the field.

/** With the `u` flag a surrogate pair is one code point, so `\p{Cs}` matches only lone halves. */
const LONE_SURROGATE = /\p{Cs}/u;

export interface UnsafeString {
  /** Where it is: `objective`, `validators[1].command`, `query.cursor`, ... */
  path: string;
  problem: string;
}

function describe(s: string): string | undefined {
  if (s.includes('\0')) return 'contains a NUL character (U+0000), which cannot be stored';
  const m = LONE_SURROGATE.exec(s);
  if (!m) return undefined;
  const hex = m[0].charCodeAt(0).toString(16).toUpperCase();
  return `contains an unpaired UTF-16 surrogate (U+${hex}), which is not valid Unicode`;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

const join = (base: string, key: string | number) =>
  typeof key === 'number'
    ? `${base}[${key}]`
    : IDENTIFIER.test(key)
      ? base
        ? `${base}.${key}`
        : key
      : `${base}[${JSON.stringify(key)}]`;

/**
 * The first string (value or object key) in `value` that cannot be stored, or undefined. Walks
 * iteratively: a request body may be nested far deeper than the call stack allows.
 */
export function findUnsafeString(value: unknown, root = ''): UnsafeString | undefined {
  const stack: Array<[unknown, string]> = [[value, root]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [v, path] = next;
    if (typeof v === 'string') {
      const problem = describe(v);
      if (problem) return { path: path || '(root)', problem };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], join(path, i)]);
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        const problem = describe(key);
        if (problem) return { path: join(path, key), problem: `(a field name) ${problem}` };
        stack.push([(v as Record<string, unknown>)[key], join(path, key)]);
      }
    }
  }
  return undefined;
}
