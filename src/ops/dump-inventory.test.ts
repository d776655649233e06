// The dump reader against dumps written the way pg_dump writes them: COPY blocks (PostgreSQL) and
// one INSERT per row (PGlite), with values that span lines, hold quotes, tabs and SQL text, split
// into chunks at any byte (a multi-byte character too).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createInventoryCollector, insertValue } from './dump-inventory.js';

interface Row {
  swarm: string;
  text: string;
}

const HEAD = `--
-- PostgreSQL database dump
--
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
DROP TABLE IF EXISTS public.events;
CREATE TABLE public.swarms (
    id uuid NOT NULL,
    objective text DEFAULT 'it''s'::text NOT NULL
);
CREATE TABLE public.events (
    swarm_id uuid NOT NULL,
    seq integer NOT NULL,
    data jsonb NOT NULL
);
-- Name: events; Type: TABLE DATA; Owner: it's -
`;

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const copyField = (s: string) =>
  s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

function insertsDump(swarms: Row[], events: Row[]): string {
  return (
    HEAD +
    swarms
      .map((r) => `INSERT INTO public.swarms VALUES ('${r.swarm}', ${sqlString(r.text)});\n`)
      .join('') +
    events
      .map(
        (r, i) =>
          `INSERT INTO public.events VALUES ('${r.swarm}', ${i + 1}, ${sqlString(r.text)});\n`,
      )
      .join('') +
    'ALTER TABLE ONLY public.swarms\n    ADD CONSTRAINT swarms_pkey PRIMARY KEY (id);\n'
  );
}

function copyDump(swarms: Row[], events: Row[]): string {
  return (
    HEAD +
    'COPY public.swarms (id, objective) FROM stdin;\n' +
    swarms.map((r) => `${r.swarm}\t${copyField(r.text)}\n`).join('') +
    '\\.\n\nCOPY public.events (swarm_id, seq, data) FROM stdin;\n' +
    events.map((r, i) => `${r.swarm}\t${i + 1}\t${copyField(r.text)}\n`).join('') +
    '\\.\n\n\\unrestrict abc\n'
  );
}

async function inventoryOf(text: string, cuts: number[] = []) {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  let at = 0;
  for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (c <= at || c >= bytes.length) continue;
    chunks.push(bytes.subarray(at, c));
    at = c;
  }
  chunks.push(bytes.subarray(at));
  const c = createInventoryCollector();
  await pipeline(Readable.from(chunks), c.sink);
  return c.result();
}

const TRICKY = [
  "it's a 'quoted' objective",
  "line one\nline two\n\\.\nINSERT INTO public.swarms VALUES ('fake', 'x');",
  "COPY public.swarms (id) FROM stdin;\n-- not a comment\n'",
  'tab\tand backslash \\ and ünïcødé ✓ 🚀',
  '',
];

describe('dump inventory', () => {
  const a = '11111111-1111-4111-8111-111111111111';
  const b = '22222222-2222-4222-8222-222222222222';
  const swarms = [
    { swarm: a, text: TRICKY[1]! },
    { swarm: b, text: TRICKY[2]! },
  ];
  const events = [
    { swarm: a, text: TRICKY[0]! },
    { swarm: a, text: TRICKY[1]! },
    { swarm: b, text: TRICKY[3]! },
  ];

  it('reads the INSERT statements of a PGlite dump, literals spanning lines included', async () => {
    const inv = await inventoryOf(insertsDump(swarms, events));
    expect(inv.format).toBe('inserts');
    expect(inv.rowCounts).toEqual({ 'public.swarms': 2, 'public.events': 3 });
    expect([...inv.swarms].sort()).toEqual([a, b]);
    expect(Object.fromEntries(inv.events)).toEqual({ [a]: 2, [b]: 1 });
  });

  it('reads the COPY blocks of a PostgreSQL dump', async () => {
    const inv = await inventoryOf(copyDump(swarms, events));
    expect(inv.format).toBe('copy');
    expect(inv.rowCounts).toEqual({ 'public.swarms': 2, 'public.events': 3 });
    expect(Object.fromEntries(inv.events)).toEqual({ [a]: 2, [b]: 1 });
  });

  it('finds the n-th value of a VALUES list', () => {
    const line = "INSERT INTO public.t VALUES ('a''b', 42, NULL, 'x, y)', true);";
    const start = 'INSERT INTO public.t VALUES ('.length;
    expect([0, 1, 2, 3, 4].map((i) => insertValue(line, start, i))).toEqual([
      "a'b",
      '42',
      'NULL',
      'x, y)',
      'true',
    ]);
    expect(insertValue("INSERT INTO public.t VALUES ('open\n", start, 0)).toBeUndefined();
  });

  it('counts every row and swarm of any content, however the stream is cut', async () => {
    const uuid = fc.uuid({ version: 4 });
    const text = fc.oneof(
      fc.constantFrom(...TRICKY),
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.stringMatching(/^['\n\t\\;() ]{0,12}$/),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(uuid, { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), text), { maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.boolean(),
        async (ids, rawEvents, cuts, copy) => {
          const s = ids.map((id, i) => ({ swarm: id, text: rawEvents[i]?.[1] ?? '' }));
          const e = rawEvents.map(([n, t]) => ({ swarm: ids[n % ids.length]!, text: t }));
          const dump = (copy ? copyDump : insertsDump)(s, e);
          const inv = await inventoryOf(
            dump,
            cuts.map((c) => c % Math.max(1, Buffer.byteLength(dump))),
          );
          expect(inv.rowCounts).toEqual({ 'public.swarms': s.length, 'public.events': e.length });
          expect([...inv.swarms].sort()).toEqual([...ids].sort());
          const expected = new Map<string, number>();
          for (const r of e) expected.set(r.swarm, (expected.get(r.swarm) ?? 0) + 1);
          expect(Object.fromEntries(inv.events)).toEqual(Object.fromEntries(expected));
        },
      ),
      { numRuns: 200 },
    );
  });
});
