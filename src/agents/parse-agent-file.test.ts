// Agent files: Claude Code compatibility, every rejection naming its field, and two properties
// (render -> parse round-trips; arbitrary text fails only with AgentFileError).
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { AGENT_ROLES, type AgentDefinition } from '../domain/agent-definition.js';
import { AgentFileError, parseAgentFile, splitToolList } from './parse-agent-file.js';

const SOURCE = '/agents/test.md';

function file(frontmatter: string, body = 'You are a helpful agent.\n'): string {
  return `---\n${frontmatter}\n---\n${body}`;
}

function reject(text: string): AgentFileError {
  try {
    parseAgentFile(text, SOURCE);
  } catch (err) {
    expect(err).toBeInstanceOf(AgentFileError);
    const e = err as AgentFileError;
    expect(e.source).toBe(SOURCE);
    expect(e.message).toBe(`${SOURCE}: ${e.reason}`);
    return e;
  }
  throw new Error('expected parseAgentFile to throw');
}

describe('parseAgentFile: valid files', () => {
  it('reads a Claude Code agent file unchanged, ignoring keys it does not know', () => {
    const text = [
      '---',
      'name: code-reviewer',
      'description: Expert code review specialist. Use immediately after writing code.',
      'tools: Read, Grep, Glob, Bash',
      'model: inherit',
      'color: blue',
      '---',
      '',
      'You are a senior code reviewer.',
      '',
      'Review the diff.',
      '',
    ].join('\n');
    expect(parseAgentFile(text, SOURCE)).toEqual({
      name: 'code-reviewer',
      description: 'Expert code review specialist. Use immediately after writing code.',
      role: 'implementer',
      systemPrompt: 'You are a senior code reviewer.\n\nReview the diff.',
      tools: ['Read', 'Grep', 'Glob', 'Bash'],
      source: SOURCE,
    } satisfies AgentDefinition);
  });

  it('accepts tools as a YAML list, and our own optional keys', () => {
    const def = parseAgentFile(
      file(
        [
          'name: sec-check',
          'description: Audits changes',
          'tools:',
          '  - Read',
          '  - " Grep "',
          '  - Read',
          'model: opus',
          'role: validator',
          'provider: anthropic',
          'temperature: 0.2',
          'maxTokens: 8000',
          'timeoutMs: 120000',
        ].join('\n'),
      ),
      SOURCE,
    );
    expect(def).toMatchObject({
      tools: ['Read', 'Grep'],
      model: 'opus',
      role: 'validator',
      provider: 'anthropic',
      temperature: 0.2,
      maxTokens: 8000,
      timeoutMs: 120000,
    });
  });

  it('treats omitted, empty and blank tools as no tools, and an empty value as unset', () => {
    expect(parseAgentFile(file('name: a\ndescription: d'), SOURCE).tools).toEqual([]);
    expect(parseAgentFile(file('name: a\ndescription: d\ntools: ""'), SOURCE).tools).toEqual([]);
    const def = parseAgentFile(file('name: a\ndescription: d\ntools:\nmodel:'), SOURCE);
    expect(def.tools).toEqual([]);
    expect(def.model).toBeUndefined();
  });

  it('splits the tools string only on commas outside parentheses', () => {
    expect(splitToolList('Read, Bash(git add:*, git commit:*) ,, Write')).toEqual([
      'Read',
      'Bash(git add:*, git commit:*)',
      'Write',
    ]);
  });

  it('accepts CRLF line ends, a byte-order mark, and "---" lines in the body', () => {
    const text =
      '\uFEFF---\r\nname: crlf\r\ndescription: d\r\n---\r\nLine one\r\n---\r\nLine two\r\n';
    const def = parseAgentFile(text, SOURCE);
    expect(def.name).toBe('crlf');
    expect(def.systemPrompt).toBe('Line one\r\n---\r\nLine two');
  });
});

describe('parseAgentFile: every rejection names the problem', () => {
  /** A valid file with `key` replaced by the raw YAML value (or removed when raw is ''). */
  const withField = (key: string, raw: string) => {
    const lines = new Map([
      ['name', 'ok'],
      ['description', 'd'],
    ]);
    lines.delete(key);
    if (raw !== '') lines.set(key, raw);
    return file([...lines].map(([k, v]) => `${k}: ${v}`).join('\n'));
  };

  it.each([
    ['name', '', /"name" is required/],
    ['name', 'My Agent', /"name" must be kebab-case/],
    ['name', '-leading', /"name" must be kebab-case/],
    ['name', 'a'.repeat(65), /"name" must be kebab-case/],
    ['name', '42', /"name" must be a string/],
    ['description', '', /"description" is required/],
    ['description', '"   "', /"description" must not be empty/],
    ['description', '[a, b]', /"description" must be a string/],
    ['tools', '42', /"tools" must be a comma-separated string/],
    ['tools', '[Read, 5]', /"tools" must be a comma-separated string/],
    ['model', '5', /"model" must be a string/],
    ['model', '""', /"model" must not be empty/],
    ['role', 'boss', /"role" must be one of implementer, validator, product-owner, coordinator/],
    ['provider', '{a: 1}', /"provider" must be a string/],
    ['temperature', '2.5', /"temperature" must be from 0 to 2/],
    ['temperature', '-0.1', /"temperature" must be from 0 to 2/],
    ['temperature', 'hot', /"temperature" must be a number/],
    ['temperature', '.nan', /"temperature" must be a number/],
    ['maxTokens', '0', /"maxTokens" must be from 1 to 200000/],
    ['maxTokens', '200001', /"maxTokens" must be from 1 to 200000/],
    ['maxTokens', '1.5', /"maxTokens" must be a whole number/],
    ['timeoutMs', '999', /"timeoutMs" must be from 1000 to 3600000/],
    ['timeoutMs', '3600001', /"timeoutMs" must be from 1000 to 3600000/],
  ])('%s: %s', (key, raw, reason) => {
    expect(reject(withField(key, raw)).reason).toMatch(reason);
  });

  it('lists every invalid field at once', () => {
    const e = reject(file('name: Bad Name\ntemperature: 9'));
    expect(e.reason).toMatch(/"name"/);
    expect(e.reason).toMatch(/"description" is required/);
    expect(e.reason).toMatch(/"temperature"/);
  });

  it.each([
    ['no frontmatter', 'Just a prompt.', /must start with a "---" line/],
    ['an unclosed frontmatter', '---\nname: a\ndescription: d\nbody', /not closed/],
    ['an empty frontmatter', '---\n---\nbody', /frontmatter is empty/],
    ['a frontmatter that is a list', file('- a\n- b'), /must be a mapping/],
    ['invalid YAML', file('name: [unclosed\ndescription: d'), /invalid YAML/],
    [
      'a duplicate key',
      file('name: a\nname: b\ndescription: d'),
      /^invalid YAML frontmatter at line 3, column 1: Map keys must be unique$/,
    ],
    ['an empty body', file('name: a\ndescription: d', '  \n\n'), /body .* is empty/],
  ])('rejects %s', (_what, text, reason) => {
    expect(reject(text).reason).toMatch(reason);
  });

  it('rejects an alias bomb without expanding it', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'name: bomb',
      'description: d',
    ].join('\n');
    expect(reject(file(bomb)).reason).toMatch(/invalid YAML.*alias/i);
  });
});

describe('parseAgentFile: properties', () => {
  const name = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,63}$/);
  const text = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 80 })
    .filter((s) => s.trim().length > 0);
  const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,30}$/);
  const finite = (min: number, max: number) =>
    fc.double({ min, max, noNaN: true }).map((x) => x + 0); // no -0

  it('renders arbitrary valid fields and parses them back to the same definition', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            name,
            description: text,
            tools: fc.uniqueArray(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,20}$/), {
              maxLength: 8,
            }),
            toolsAsString: fc.boolean(),
            model: word.filter((m) => m.toLowerCase() !== 'inherit'),
            role: fc.constantFrom(...AGENT_ROLES),
            provider: word,
            temperature: finite(0, 2),
            maxTokens: fc.integer({ min: 1, max: 200_000 }),
            timeoutMs: fc.integer({ min: 1000, max: 3_600_000 }),
            extra: fc.dictionary(fc.stringMatching(/^x-[a-z]{1,8}$/), fc.jsonValue(), {
              maxKeys: 3,
            }),
            body: fc.string({ unit: 'grapheme', maxLength: 400 }).filter((s) => s.trim() !== ''),
          },
          { requiredKeys: ['name', 'description', 'tools', 'toolsAsString', 'extra', 'body'] },
        ),
        (f) => {
          const frontmatter: Record<string, unknown> = {
            ...f.extra,
            name: f.name,
            description: f.description,
            tools: f.toolsAsString ? f.tools.join(', ') : f.tools,
          };
          for (const key of [
            'model',
            'role',
            'provider',
            'temperature',
            'maxTokens',
            'timeoutMs',
          ] as const) {
            if (f[key] !== undefined) frontmatter[key] = f[key];
          }
          const rendered = `---\n${stringify(frontmatter)}---\n${f.body}`;
          const expected: AgentDefinition = {
            name: f.name,
            description: f.description.trim(),
            role: f.role ?? 'implementer',
            systemPrompt: f.body.trim(),
            tools: f.tools,
            source: SOURCE,
          };
          if (f.model !== undefined) expected.model = f.model;
          if (f.provider !== undefined) expected.provider = f.provider;
          if (f.temperature !== undefined) expected.temperature = f.temperature;
          if (f.maxTokens !== undefined) expected.maxTokens = f.maxTokens;
          if (f.timeoutMs !== undefined) expected.timeoutMs = f.timeoutMs;
          expect(parseAgentFile(rendered, SOURCE)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  function failsOnlyWithAgentFileError(input: string) {
    try {
      parseAgentFile(input, SOURCE);
    } catch (err) {
      if (!(err instanceof AgentFileError)) throw err;
      expect(err.source).toBe(SOURCE);
      expect(err.reason.length).toBeGreaterThan(0);
    }
  }

  it('never throws anything but AgentFileError on arbitrary text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), failsOnlyWithAgentFileError), {
      numRuns: 500,
    });
  });

  it('never throws anything but AgentFileError on arbitrary YAML-like frontmatter', () => {
    const token = fc.constantFrom(
      'name',
      'description',
      'tools',
      'model',
      'role',
      'temperature',
      'maxTokens',
      'timeoutMs',
      'validator',
      'a-b',
      ': ',
      '- ',
      '\n',
      '  ',
      '&a ',
      '*a',
      '[',
      ']',
      '{',
      '}',
      ',',
      '"',
      "'",
      '|',
      '>',
      '!!binary ',
      '!!str ',
      '!tag ',
      '? ',
      '#',
      '%YAML 1.1\n',
      '...',
      '1e999',
      '.inf',
      '-1',
      '0.5',
      'null',
      '~',
      '<<: ',
      '__proto__',
      'constructor',
    );
    const yamlish = fc.array(fc.oneof(token, fc.string({ maxLength: 5 })), { maxLength: 40 });
    fc.assert(
      fc.property(yamlish, fc.string({ maxLength: 20 }), (parts, body) =>
        failsOnlyWithAgentFileError(`---\n${parts.join('')}\n---\n${body}`),
      ),
      { numRuns: 1000 },
    );
  });
});
