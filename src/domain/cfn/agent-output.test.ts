import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  extractLastJsonObject,
  implementerOutput,
  parseAgentOutput,
  validatorOutput,
  decisionOutput,
} from './agent-output.js';

describe('agent output parser', () => {
  it('takes the last JSON object, fenced or bare', () => {
    const text =
      'I did {"not": "this"} and then\n```json\n{"confidence": 0.8, "summary": "done {ok}"}\n```\n';
    expect(extractLastJsonObject(text)).toEqual({ confidence: 0.8, summary: 'done {ok}' });
    expect(
      parseAgentOutput(
        'blah {"score":1,"approve":true,"feedback":"fine"}',
        validatorOutput,
        'validator',
      ),
    ).toEqual({
      ok: true,
      value: { score: 1, approve: true, feedback: 'fine' },
    });
  });

  it('skips a trailing object that is not JSON and accepts a lower-case decision', () => {
    expect(
      parseAgentOutput(
        '{"decision":"proceed","rationale":"r"} then code { a: 1 }',
        decisionOutput,
        'decision',
      ),
    ).toEqual({
      ok: true,
      value: { decision: 'PROCEED', rationale: 'r' },
    });
  });

  it('gives a reason naming the field when the object is invalid or missing', () => {
    const bad = parseAgentOutput('{"confidence": 7}', implementerOutput, 'implementer');
    expect(bad).toMatchObject({ ok: false });
    expect((bad as { reason: string }).reason).toMatch(
      /implementer JSON object is invalid: confidence/,
    );
    expect(parseAgentOutput('no json here', implementerOutput, 'implementer')).toEqual({
      ok: false,
      reason: 'the implementer answer has no JSON object at the end (the output contract)',
    });
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        const r = parseAgentOutput(s, implementerOutput, 'implementer');
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(
            '{',
            '}',
            '"',
            '\\',
            'a',
            ':',
            ',',
            ' ',
            '1',
          ) as fc.Arbitrary<string>,
          maxLength: 200,
        }),
        (s) => {
          extractLastJsonObject(s);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('finds a valid contract object after arbitrary prose', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.string({ maxLength: 100 }),
        fc.constantFrom('', '```json\n', '```\n'),
        (prose, confidence, summary, fence) => {
          const obj = { confidence, summary };
          const text = `${prose}\n${fence}${JSON.stringify(obj, null, fence ? 2 : 0)}${fence ? '\n```' : ''}\n`;
          const r = parseAgentOutput(text, implementerOutput, 'implementer');
          expect(r).toEqual({ ok: true, value: obj });
        },
      ),
      { numRuns: 1000 },
    );
  });
});
