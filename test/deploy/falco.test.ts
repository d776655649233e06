// deploy/falco/ checked for shape, as Falco would load it (Falco itself is not installable here):
// every entry is a rule, macro, list or engine version with the fields Falco requires; every
// macro and list a condition names is defined before it is used, and every one defined is used;
// every rule filters on an event type (Falco warns and slows down otherwise); outputs name only
// field classes of the syscall source; the guide's "Suspicious Network Activity" rule is there.
import { describe, expect, it } from 'vitest';
import { filesUnder, readText, yamlDocuments } from './repo.js';

type Entry = Record<string, unknown>;
const files = filesUnder('deploy/falco', /\.ya?ml$/);
const PRIORITIES = [
  'EMERGENCY',
  'ALERT',
  'CRITICAL',
  'ERROR',
  'WARNING',
  'NOTICE',
  'INFORMATIONAL',
  'INFO',
  'DEBUG',
];
const LOGICAL = new Set(['and', 'or', 'not']);
const LIST_OPERATORS = new Set(['in', 'intersects', 'pmatch']);
const COMPARISONS = new Set([
  '=',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'contains',
  'icontains',
  'bcontains',
  'startswith',
  'bstartswith',
  'endswith',
  'glob',
  'iglob',
  'regex',
  'exists',
]);

/** The names a condition uses as macros (bare words) and as lists (inside `in (…)`). */
export function references(condition: string): { macros: string[]; lists: string[] } {
  const unquoted = condition.replace(/'[^']*'|"[^"]*"/g, ' "" ');
  const tokens = unquoted.match(/!=|==|<=|>=|[()=<>,]|[^\s()=<>!,]+/g) ?? [];
  const macros: string[] = [];
  const lists: string[] = [];
  let depthOfList = -1;
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const prev = tokens[i - 1];
    if (t === '(') {
      depth++;
      if (prev && LIST_OPERATORS.has(prev) && depthOfList < 0) depthOfList = depth;
      continue;
    }
    if (t === ')') {
      if (depth === depthOfList) depthOfList = -1;
      depth--;
      continue;
    }
    if (t === ',' || t === '""' || LOGICAL.has(t) || LIST_OPERATORS.has(t) || COMPARISONS.has(t))
      continue;
    if (depthOfList >= 0) {
      if (/^[a-z_][a-z0-9_]*$/.test(t)) lists.push(t); // a bare word in a list: a list or a value
      continue;
    }
    if (prev && COMPARISONS.has(prev)) continue; // a value
    if (!t.includes('.') && !t.includes('[')) macros.push(t);
  }
  return { macros, lists };
}

describe.each(files)('%s', (file) => {
  const entries = yamlDocuments(readText(file))[0] as Entry[];

  it('holds only rules, macros, lists and an engine version, each with its fields', () => {
    expect(Array.isArray(entries)).toBe(true);
    for (const e of entries) {
      const kind = ['rule', 'macro', 'list', 'required_engine_version'].filter((k) => k in e);
      expect(kind, JSON.stringify(e)).toHaveLength(1);
      if ('rule' in e) {
        for (const field of ['desc', 'condition', 'output', 'priority'])
          expect(typeof e[field], `${String(e.rule)}: ${field}`).toBe('string');
        expect(PRIORITIES).toContain(e.priority);
        expect(Array.isArray(e.tags), `${String(e.rule)}: tags`).toBe(true);
      }
      if ('macro' in e) expect(typeof e.condition, String(e.macro)).toBe('string');
      if ('list' in e) expect(Array.isArray(e.items), String(e.list)).toBe(true);
    }
  });

  it('defines every macro and list before a condition uses it, and uses every one defined', () => {
    const macros = new Set<string>();
    const lists = new Set<string>();
    const used = new Set<string>();
    for (const e of entries) {
      if (typeof e.condition === 'string') {
        const refs = references(e.condition);
        for (const m of refs.macros) {
          expect(macros.has(m), `${String(e.rule ?? e.macro)} uses macro ${m}`).toBe(true);
          used.add(m);
        }
        // A bare word inside `in (…)` is a list of ours (cfn_…) or a value (connect, execve).
        for (const l of refs.lists.filter((x) => x.startsWith('cfn_'))) {
          expect(lists.has(l), `${String(e.rule ?? e.macro)} uses list ${l}`).toBe(true);
          used.add(l);
        }
      }
      if (typeof e.items === 'object')
        for (const item of e.items as unknown[])
          if (typeof item === 'string' && lists.has(item)) used.add(item);
      if (typeof e.macro === 'string') macros.add(e.macro);
      if (typeof e.list === 'string') lists.add(e.list);
    }
    expect([...macros, ...lists].filter((n) => !used.has(n))).toEqual([]);
  });

  it('filters every rule on an event type, through its macros', () => {
    const bodies = new Map<string, string>();
    const expand = (condition: string, seen = new Set<string>()): string =>
      references(condition)
        .macros.filter((m) => !seen.has(m))
        .reduce(
          (acc, m) => `${acc} ${expand(bodies.get(m) ?? '', new Set([...seen, m]))}`,
          condition,
        );
    for (const e of entries) {
      if (typeof e.macro === 'string') bodies.set(e.macro, String(e.condition));
      if (typeof e.rule === 'string')
        expect(expand(String(e.condition)), e.rule).toMatch(/evt\.type/);
    }
  });

  it('names only syscall fields in outputs', () => {
    for (const e of entries.filter((x) => 'rule' in x)) {
      const fields = String(e.output).match(/%[a-z][\w.[\]]*/g) ?? [];
      expect(fields.length, String(e.rule)).toBeGreaterThan(0);
      for (const f of fields) expect(f, String(e.rule)).toMatch(/^%(proc|fd|user|container|evt)\./);
    }
  });
});

describe('the references of a condition', () => {
  it('tells macros, lists and values apart (the check above bites)', () => {
    expect(
      references(
        'cfn_a and evt.type in (connect, cfn_l) and not proc.name = bash and (cfn_b or fd.snet in (cfn_m)) and x.y exists',
      ),
    ).toEqual({ macros: ['cfn_a', 'cfn_b'], lists: ['connect', 'cfn_l', 'cfn_m'] });
    expect(references('fd.name pmatch (cfn_dirs) and proc.aname[2] in (cfn_x)').macros).toEqual([]);
  });
});

it("ships the guide's rule for our processes", () => {
  const entries = files.flatMap((f) => yamlDocuments(readText(f))[0] as Entry[]);
  const rule = entries.find((e) => e.rule === 'Suspicious Network Activity');
  expect(rule).toMatchObject({ priority: 'WARNING' });
  expect(String(rule!.output)).toMatch(/^Suspicious network connection detected/);
  expect(String(rule!.output)).toContain('%proc.cmdline');
  expect(String(rule!.output)).toContain('%fd.name');
  for (const name of [
    'Shell Spawned in claude-flow-novice Container',
    'Write Outside Data Directories in claude-flow-novice Container',
    'Unexpected Outbound Connection from Agent Sandbox',
  ])
    expect(entries.map((e) => e.rule)).toContain(name);
});
