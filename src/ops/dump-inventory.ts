// Reads a plain SQL dump as it streams past (pg_dump's COPY blocks, or the INSERT statements of
// PGlite's dump) and keeps what a restore must know before it replaces anything: the rows of each
// table, the swarms the dump holds and the events of each. No database is needed, so the
// confirmation of a restore can say exactly what the current database would lose.
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import type { RowCounts } from '../ports/backup.js';

export interface DumpInventory {
  /** `copy`: COPY blocks (needs psql: a PostgreSQL dump); `inserts`: INSERT statements; `none`: no rows. */
  format: 'copy' | 'inserts' | 'none';
  rowCounts: RowCounts;
  /** Ids of the swarms in `public.swarms`. */
  swarms: Set<string>;
  /** Rows of `public.events` per swarm id. */
  events: Map<string, number>;
}

const SWARMS = 'public.swarms';
const EVENTS = 'public.events';
/** The column each inventoried table is keyed by. */
const KEY_COLUMN: Record<string, string> = { [SWARMS]: 'id', [EVENTS]: 'swarm_id' };

const unquote = (name: string) =>
  name
    .split('.')
    .map((p) => (p.startsWith('"') && p.endsWith('"') ? p.slice(1, -1).replace(/""/g, '"') : p))
    .join('.');
const columnList = (text: string) => text.split(',').map((c) => unquote(c.trim()));

const COPY_RE = /^COPY (\S+) \(([^)]*)\) FROM stdin;$/;
const CREATE_RE = /^CREATE TABLE (\S+) \($/;
const INSERT_RE = /^INSERT INTO (\S+) (?:\(([^)]*)\) )?VALUES \(/;

/** The index-th value of an INSERT's VALUES list on this line, or undefined if it is not all here. */
export function insertValue(line: string, start: number, index: number): string | undefined {
  let i = start;
  for (let n = 0; ; n++) {
    while (line[i] === ' ') i++;
    let value: string;
    if (line[i] === "'") {
      let j = i + 1;
      let out = '';
      for (;;) {
        const q = line.indexOf("'", j);
        if (q < 0) return undefined;
        out += line.slice(j, q);
        if (line[q + 1] === "'") {
          out += "'";
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      value = out;
      i = j;
    } else {
      const m = /^[^,)]*/.exec(line.slice(i))!;
      value = m[0].trim();
      i += m[0].length;
    }
    if (n === index) return value;
    if (line[i] !== ',') return undefined;
    i++;
  }
}

/** Counts the quotes of a line: an odd number opens or closes a literal spanning lines. */
const oddQuotes = (line: string) => {
  let n = 0;
  for (let i = line.indexOf("'"); i >= 0; i = line.indexOf("'", i + 1)) n++;
  return n % 2 === 1;
};

export function createInventoryCollector(): { sink: Writable; result(): DumpInventory } {
  const inv: DumpInventory = {
    format: 'none',
    rowCounts: {},
    swarms: new Set(),
    events: new Map(),
  };
  const columns = new Map<string, string[]>();
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let mode: 'sql' | 'copy' | 'create' = 'sql';
  let inString = false;
  let table = '';
  let keyIndex = -1;
  let creating: string[] = [];

  const keyed = (t: string, value: string | undefined) => {
    if (value === undefined) return;
    if (t === SWARMS) inv.swarms.add(value);
    else if (t === EVENTS) inv.events.set(value, (inv.events.get(value) ?? 0) + 1);
  };
  const indexIn = (t: string, cols: string[] | undefined) =>
    KEY_COLUMN[t] && cols ? cols.indexOf(KEY_COLUMN[t]) : -1;

  function line(l: string) {
    if (mode === 'copy') {
      if (l === '\\.') {
        mode = 'sql';
        return;
      }
      inv.rowCounts[table] = (inv.rowCounts[table] ?? 0) + 1;
      // COPY text escapes tabs and newlines, so fields split on tabs and a row is one line.
      if (keyIndex >= 0) keyed(table, l.split('\t')[keyIndex]);
      return;
    }
    if (inString) {
      if (oddQuotes(l)) inString = false;
      return;
    }
    if (mode === 'create') {
      if (l.startsWith(')')) {
        columns.set(table, creating);
        mode = 'sql';
      } else {
        const name = /^\s+("(?:[^"]|"")+"|\S+)/.exec(l)?.[1];
        if (name && name !== 'CONSTRAINT') creating.push(unquote(name));
      }
      if (oddQuotes(l)) inString = true;
      return;
    }
    if (l.startsWith('--')) return;
    let m = COPY_RE.exec(l);
    if (m) {
      mode = 'copy';
      inv.format = 'copy';
      table = unquote(m[1]!);
      inv.rowCounts[table] ??= 0;
      keyIndex = indexIn(table, columnList(m[2]!));
      return;
    }
    m = CREATE_RE.exec(l);
    if (m) {
      mode = 'create';
      table = unquote(m[1]!);
      inv.rowCounts[table] ??= 0;
      creating = [];
      return;
    }
    m = INSERT_RE.exec(l);
    if (m) {
      if (inv.format === 'none') inv.format = 'inserts';
      const t = unquote(m[1]!);
      inv.rowCounts[t] = (inv.rowCounts[t] ?? 0) + 1;
      const index = indexIn(t, m[2] ? columnList(m[2]) : columns.get(t));
      if (index >= 0) keyed(t, insertValue(l, m[0].length, index));
    }
    if (oddQuotes(l)) inString = true;
  }

  function feed(text: string) {
    const lines = (rest + text).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) line(l);
  }

  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      feed(decoder.write(chunk));
      done();
    },
    final(done) {
      feed(decoder.end());
      if (rest) line(rest);
      rest = '';
      done();
    },
  });
  return { sink, result: () => inv };
}
