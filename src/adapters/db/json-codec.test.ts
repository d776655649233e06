import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeObject, mayNeedEscaping, storableText, unescapeObject } from './json-codec.js';

/** Any sequence of UTF-16 code units, lone surrogates and NUL included. */
const anyString = fc
  .array(
    fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0, 0xffff, 0xd800, 0xdc00, 0x30)),
    {
      maxLength: 40,
    },
  )
  .map((units) => String.fromCharCode(...units));
const anyJson = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    anyString,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(anyString, tie('v'), { maxKeys: 4 }),
  ),
}));
const storable = (s: string) => !s.includes('\u0000') && s.isWellFormed();
function allStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) allStrings(x, out);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      allStrings(x, out);
    }
  return out;
}

describe('json codec', () => {
  it('restores any object exactly, and what it stores holds only storable strings', () => {
    fc.assert(
      fc.property(fc.dictionary(anyString, anyJson.v, { maxKeys: 5 }), (value) => {
        const stored = escapeObject(value);
        expect(allStrings(stored).every(storable)).toBe(true);
        expect(unescapeObject(JSON.parse(JSON.stringify(stored)))).toEqual(value);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves objects without such strings as they are (no mark, same object)', () => {
    const plain = { text: 'héllo 😀', n: 1, list: ['a'] };
    expect(escapeObject(plain)).toBe(plain);
    expect(mayNeedEscaping(JSON.stringify(plain))).toBe(false);
    expect(mayNeedEscaping(JSON.stringify({ t: 'a\u0000' }))).toBe(true);
    expect(mayNeedEscaping(JSON.stringify({ t: '\ud800' }))).toBe(true);
  });

  it('makes text storable', () => {
    fc.assert(fc.property(anyString, (s) => storable(storableText(s))));
    expect(storableText('ok')).toBe('ok');
    expect(storableText(null)).toBe(null);
  });
});
