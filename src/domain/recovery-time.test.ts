import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { parseRecoveryTime } from './recovery-time.js';

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');

describe('parseRecoveryTime', () => {
  it.each([
    ['2026-03-01 14:30:00+00', '2026-03-01 14:30:00+00'],
    ['2026-03-01T14:30:00Z', '2026-03-01 14:30:00+00'],
    ['2026-03-01 14:30:00.36993+00', '2026-03-01 14:30:00.36993+00'],
    ['2026-03-01T16:30:00.123456+02:00', '2026-03-01 14:30:00.123456+00'],
    ['2026-03-01 09:00:00-0530', '2026-03-01 14:30:00+00'],
    ['2026-03-01 00:10:00+01', '2026-02-28 23:10:00+00'],
  ])('reads %s as %s', (input, text) => {
    expect(parseRecoveryTime(input).text).toBe(text);
  });

  it('keeps microseconds in the text and milliseconds in the date', () => {
    const t = parseRecoveryTime('2026-03-01 14:30:00.000999+00');
    expect(t.text).toBe('2026-03-01 14:30:00.000999+00');
    expect(t.date.toISOString()).toBe('2026-03-01T14:30:00.000Z');
  });

  it.each([
    ['2026-03-01 14:30:00', /with its zone/],
    ['yesterday', /with its zone/],
    ['2026-02-30 10:00:00+00', /no such date or time/],
    ['2026-03-01 24:00:00+00', /no such date or time/],
    ['2026-03-01 10:00:00+16', /no such time zone offset/],
    ['2026-03-01 10:00:00.1234567+00', /with its zone/],
  ])('refuses %s', (input, message) => {
    expect(() => parseRecoveryTime(input)).toThrow(ValidationError);
    expect(() => parseRecoveryTime(input)).toThrow(message);
  });

  it('gives the same instant for any zone the time is written in (property)', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1971-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }),
        fc.integer({ min: -14 * 60, max: 14 * 60 }),
        fc.integer({ min: 0, max: 999_999 }),
        (instant, offset, micros) => {
          const at = new Date(Math.floor(instant.getTime() / 1000) * 1000);
          const local = new Date(at.getTime() + offset * 60_000);
          const fraction = pad(micros, 6);
          const sign = offset < 0 ? '-' : '+';
          const written =
            `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T` +
            `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}.${fraction}` +
            `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
          const parsed = parseRecoveryTime(written);
          expect(parsed.date.getTime()).toBe(at.getTime() + Math.floor(micros / 1000));
          expect(parsed.text).toBe(
            `${at.toISOString().slice(0, 19).replace('T', ' ')}.${fraction}+00`,
          );
          // The UTC form reads back as itself.
          expect(parseRecoveryTime(parsed.text).text).toBe(parsed.text);
        },
      ),
    );
  });
});
