import { describe, expect, it } from 'vitest';
import { decodeSwarmCursor, encodeSwarmCursor } from './swarm-cursor.js';

const id = '0b7e4c1a-3f52-4c3e-9d0a-5b8f2e6c7a91';
const raw = (text: string) => Buffer.from(text).toString('base64url');

describe('the swarm cursor', () => {
  it('round-trips an instant to the microsecond, and one to the millisecond', () => {
    for (const at of [
      '2026-12-03T10:00:00.123456Z',
      '2026-12-03T10:00:00.123Z',
      '2026-12-03T10:00:00Z',
    ])
      expect(decodeSwarmCursor(encodeSwarmCursor({ at, id }))).toEqual({ at, id });
  });

  it('refuses what PostgreSQL would refuse or what no page gave', () => {
    for (const text of [
      raw(`2026-02-30T00:00:00Z|${id}`), // no such day
      raw(`2026-02-28T24:00:00Z|${id}`),
      raw(`0000-01-01T00:00:00Z|${id}`), // no year 0
      raw(`2026-12-03T10:00:00.1234567Z|${id}`), // past microseconds
      raw(`2026-12-03 10:00:00Z|${id}`),
      raw(`2026-12-03T10:00:00Z|not-a-uuid`),
      raw(`2026-12-03T10:00:00Z|${id}|more`),
      raw('2026-12-03T10:00:00Z'),
      'not base64url!',
      '',
      'A'.repeat(501),
    ])
      expect(decodeSwarmCursor(text)).toBeUndefined();
  });
});
