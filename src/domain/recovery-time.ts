// The target of a point-in-time recovery: a timestamp with an explicit time zone, ISO 8601 or
// PostgreSQL style, turned into one UTC form (`YYYY-MM-DD HH:MM:SS[.ffffff]+00`) that both
// PostgreSQL (recovery_target_time) and pgBackRest (choosing the backup set) read the same way.
// Microseconds are kept: a target between two commits of the same millisecond stays there.
import { ValidationError } from './errors.js';

export interface RecoveryTime {
  /** `YYYY-MM-DD HH:MM:SS[.ffffff]+00`, in UTC. */
  text: string;
  /** The same instant, to the millisecond. */
  date: Date;
}

const FORM =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? ?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export function parseRecoveryTime(input: string): RecoveryTime {
  const m = FORM.exec(input.trim());
  const expected =
    'expected a time with its zone, such as "2026-03-01 14:30:00+00" or 2026-03-01T14:30:00.250Z';
  if (!m) throw new ValidationError(`Invalid recovery time "${input}": ${expected}`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = m[7] ?? '';
  const zone = m[8]!.toUpperCase();
  const local = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 2026-02-30 over into March: a field that changed was out of range.
  if (
    y < 1970 ||
    local.getUTCFullYear() !== y ||
    local.getUTCMonth() !== mo - 1 ||
    local.getUTCDate() !== d ||
    local.getUTCHours() !== h ||
    local.getUTCMinutes() !== mi ||
    local.getUTCSeconds() !== s
  ) {
    throw new ValidationError(`Invalid recovery time "${input}": no such date or time`);
  }
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 15 || om > 59) {
      throw new ValidationError(`Invalid recovery time "${input}": no such time zone offset`);
    }
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const utc = new Date(local.getTime() - offsetMinutes * 60_000);
  const text =
    `${pad(utc.getUTCFullYear(), 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())} ` +
    `${pad(utc.getUTCHours())}:${pad(utc.getUTCMinutes())}:${pad(utc.getUTCSeconds())}` +
    `${fraction ? `.${fraction}` : ''}+00`;
  const ms = fraction ? Number(fraction.padEnd(3, '0').slice(0, 3)) : 0;
  return { text, date: new Date(utc.getTime() + ms) };
}
