import { describe, expect, it } from 'vitest';
import { isUnreachable } from './unreachable.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isUnreachable', () => {
  it.each([
    ['a refused connection', withCode('ECONNREFUSED')],
    ['a reset connection', withCode('ECONNRESET')],
    ['a connection lost mid-query', new Error('Connection terminated unexpectedly')],
    ['a pool connect timeout', new Error('timeout exceeded when trying to connect')],
    [
      'Redis disconnected',
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    ],
    ['Redis stalled', new Error('Command timed out')],
    [
      'a server shutting down',
      withCode('57P01', 'terminating connection due to administrator command'),
    ],
    ['a server starting up', withCode('57P03', 'the database system is starting up')],
    ['a connection exception', withCode('08006')],
    ['ioredis with its connection gone', new Error('Connection is closed.')],
    ['a multi-address connect', new AggregateError([withCode('ECONNREFUSED')], 'connect failed')],
    [
      'a cause two levels down',
      new Error('outer', { cause: new Error('mid', { cause: withCode('ECONNREFUSED') }) }),
    ],
  ])('is true for %s', (_what, err) => {
    expect(isUnreachable(err)).toBe(true);
  });

  it.each([
    ['a syntax error', withCode('42601', 'syntax error at or near "selec"')],
    ['a unique violation', withCode('23505')],
    ['a refused value', withCode('22P05', 'unsupported Unicode escape sequence')],
    ['a fenced append', withCode('CF409', 'the lease is no longer this writer')],
    ['a bug', new TypeError('x is not a function')],
    ['a plain error', new Error('boom')],
    ['not an error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('is false for %s', (_what, err) => {
    expect(isUnreachable(err)).toBe(false);
  });
});
