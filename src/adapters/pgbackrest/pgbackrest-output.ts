// Reads what pgbackrest prints: `info --output=json`, `verify --output=text --verbose`, and the
// console log lines of backup and restore (progress percentages, the backup set restored).
import { z } from 'zod';
import type {
  PhysicalProgress,
  PhysicalRepository,
  PhysicalVerifyReport,
} from '../../ports/physical-backup.js';

const backupSchema = z.object({
  label: z.string(),
  type: z.enum(['full', 'diff', 'incr']),
  prior: z.string().nullable(),
  timestamp: z.object({ start: z.number(), stop: z.number() }),
  info: z.object({
    size: z.number(),
    repository: z.object({ delta: z.number() }),
  }),
  archive: z.object({ start: z.string().nullable(), stop: z.string().nullable() }),
});

const stanzaSchema = z.object({
  name: z.string(),
  cipher: z.string(),
  status: z.object({ code: z.number(), message: z.string() }),
  archive: z.array(
    z.object({ id: z.string(), min: z.string().nullable(), max: z.string().nullable() }),
  ),
  backup: z.array(backupSchema),
  repo: z
    .array(z.object({ key: z.number(), status: z.object({ message: z.string() }) }))
    .optional(),
});

/** pgBackRest's info status codes that still describe a usable stanza. */
const USABLE = new Set([0 /* ok */, 2 /* no valid backups */]);
/** Missing stanza path, missing stanza data: the stanza was never created. */
const UNCREATED = new Set([1, 3]);

/** A message without the lines quoting undecodable bytes, each line once. */
function readable(message: string): string {
  return [...new Set(message.split('\n').filter((l) => !l.includes('\ufffd')))].join('\n');
}

/**
 * The stanza of `pgbackrest info --output=json`. Throws, with pgBackRest's own message, when the
 * stanza is missing or unusable.
 */
export function parseInfo(json: string, stanza: string): PhysicalRepository {
  let raw: unknown;
  try {
    // pgBackRest quotes raw bytes of a file it could not parse (a wrong passphrase decrypts to
    // garbage) in its messages, control characters included: those are not valid JSON.
    // eslint-disable-next-line no-control-regex -- control characters are what it removes
    raw = JSON.parse(json.replace(/[\u0000-\u001f\u007f]/g, ' '));
  } catch {
    throw new Error(`pgbackrest info did not print JSON: ${json.slice(0, 200)}`);
  }
  const parsed = z.array(stanzaSchema).safeParse(raw);
  if (!parsed.success) {
    throw new Error(`pgbackrest info printed unexpected JSON: ${parsed.error.issues[0]?.message}`);
  }
  const s = parsed.data.find((x) => x.name === stanza);
  if (!s) throw new Error(`pgbackrest info does not list stanza ${stanza}`);
  if (UNCREATED.has(s.status.code)) {
    throw new Error(
      `stanza ${stanza}: ${s.status.message} (create it with \`pgbackrest --stanza=${stanza} stanza-create\`)`,
    );
  }
  if (!USABLE.has(s.status.code)) {
    // e.g. a wrong PGBACKREST_REPO1_CIPHER_PASS: the repository says why, with pgBackRest's hints.
    const repos = (s.repo ?? []).map((r) => `repo${r.key}: ${readable(r.status.message)}`);
    const hint = repos.some((r) => r.includes('unable to load info file'))
      ? ['HINT: a wrong PGBACKREST_REPO1_CIPHER_PASS fails this way too.']
      : [];
    throw new Error(`stanza ${stanza}: ${[s.status.message, ...repos, ...hint].join('\n')}`);
  }
  const current = s.archive.at(-1);
  return {
    name: s.name,
    cipher: s.cipher === 'none' ? null : s.cipher,
    backups: s.backup.map((b) => ({
      label: b.label,
      kind: b.type,
      prior: b.prior,
      startedAt: new Date(b.timestamp.start * 1000),
      stoppedAt: new Date(b.timestamp.stop * 1000),
      databaseBytes: b.info.size,
      repositoryBytes: b.info.repository.delta,
      walStart: b.archive.start ?? '',
      walStop: b.archive.stop ?? '',
    })),
    wal: current?.min && current.max ? { min: current.min, max: current.max } : null,
  };
}

/** `pgbackrest verify --output=text --verbose`: the overall status and what each part holds. */
export function parseVerify(text: string): PhysicalVerifyReport {
  const status = /^status: (\w+)/m.exec(text)?.[1];
  if (!status) throw new Error(`pgbackrest verify printed no status: ${text.slice(0, 200)}`);
  const archives = [
    ...text.matchAll(/^\s*archiveId: (\S+), total WAL checked: (\d+), total valid WAL: (\d+)/gm),
  ].map((m) => ({ id: m[1]!, checked: Number(m[2]), valid: Number(m[3]) }));
  const backups = [
    ...text.matchAll(
      /^\s*backup: (\S+), status: (\w+), total files checked: (\d+), total valid files: (\d+)/gm,
    ),
  ].map((m) => ({
    label: m[1]!,
    status: m[2]!,
    checked: Number(m[3]),
    valid: Number(m[4]),
  }));
  return { ok: status === 'ok', archives, backups, text: text.trim() };
}

/** A console line: `2026-03-01 02:00:00.000 P01 DETAIL: backup file … (8KB, 42.17%) …`. */
const LINE = /^\S+ \S+ P\d+ +([A-Z]+): (.*)$/;
const PERCENT = /\([^(),]+, (\d{1,3}(?:\.\d+)?)%\)/;

/**
 * The progress a console line tells: INFO lines by their message, DETAIL lines only when they
 * carry a percentage (files backed up or restored); undefined for the rest.
 */
export function parseProgressLine(line: string): PhysicalProgress | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const [, level, message] = m as unknown as [string, string, string];
  const pct = PERCENT.exec(message)?.[1];
  if (pct !== undefined) return { message, percent: Number(pct) };
  return level === 'INFO' || level === 'WARN' ? { message } : undefined;
}

/** The backup set a restore used, from its `restore backup set <label>, …` line. */
export function restoredLabel(lines: readonly string[]): string | null {
  for (const l of lines) {
    const m = /restore backup set (\S+?),/.exec(l);
    if (m?.[1]) return m[1];
  }
  return null;
}
