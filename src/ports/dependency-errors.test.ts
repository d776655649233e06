import { describe, expect, it } from 'vitest';
import { isDependencyUnavailable } from './dependency-errors.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDependencyUnavailable', () => {
  it('knows a dependency that went away', () => {
    for (const err of [
      withCode('ECONNREFUSED'),
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('08006'),
      withCode('40P01', 'deadlock detected'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection is closed.'),
      new Error('outer', { cause: withCode('ECONNRESET') }),
      new AggregateError([withCode('ECONNREFUSED')], 'connect failed'),
    ])
      expect(isDependencyUnavailable(err), String(err)).toBe(true);
  });

  it('does not take a refusal or a bug for an outage', () => {
    for (const err of [
      withCode('23505', 'duplicate key value'),
      withCode('22P05', 'unsupported Unicode escape sequence'),
      withCode('CF409', 'lease lost'),
      new TypeError('x is not a function'),
      new Error('too much contention'),
      undefined,
      'a string',
    ])
      expect(isDependencyUnavailable(err), String(err)).toBe(false);
  });
});
