// What the backup, restore and maintenance commands share: where a command runs (on the database
// opened here, or through the running service's API when it holds the embedded database or --url
// is given), a progress line on stderr when it is a terminal, and their common options.
import { Command, Option } from 'commander';
import type { BackupProgress } from '../ops/backup-service.js';
import type { BackupType } from '../ports/backup.js';
import { CliError } from './api-client.js';
import {
  directBackend,
  serviceBackend,
  type BackupBackend,
  type BackupSession,
} from './backup-backend.js';
import { urlOption } from './command-kit.js';
import { createPgBackRestCommands, type OpenPhysicalBackups } from './pgbackrest-commands.js';

/** The options that say where a command runs. */
export interface Where {
  target?: string;
  url: string;
  key?: string;
}

/** The embedded database is held by another process (the running service): its pid. */
function lockedBy(err: unknown): number | undefined {
  const e = err as { code?: string; details?: { pid?: number } } | null;
  return e?.code === 'DATA_DIR_LOCKED' ? (e.details?.pid ?? 0) : undefined;
}

export interface BackupCommandDeps {
  /**
   * Opens the database and the backup target (`target` overrides BACKUP_TARGET). Fails with
   * code DATA_DIR_LOCKED when the running embedded service holds the database.
   */
  backups(options: {
    target?: string | undefined;
    onProgress?: (p: BackupProgress) => void;
  }): Promise<BackupSession>;
  fetch?: typeof fetch;
  /** The URL of the embedded service holding the database on this data directory, if running. */
  localService?: () => string | undefined;
  /** `--engine pgbackrest`: opens pgBackRest (fails naming the variable when unconfigured). */
  pgbackrest?: OpenPhysicalBackups;
  out?: (text: string) => void;
  err?: (text: string) => void;
  /** stderr is a terminal: show a progress line there. */
  errIsTTY?: boolean;
}

export const TYPES: BackupType[] = ['database', 'app-data'];
export type Engine = 'dump' | 'pgbackrest';

export function dumpType(type: string | undefined, fallback: BackupType): BackupType {
  if (type === undefined) return fallback;
  if (!(TYPES as string[]).includes(type)) {
    throw new CliError(
      `--type is database or app-data, not "${type}" (full, diff and incr need --engine pgbackrest).`,
    );
  }
  return type as BackupType;
}

/** Options of the dump engine that mean nothing to pgBackRest (or the other way round). */
export function refuse(engine: Engine, given: Record<string, unknown>): void {
  const names = Object.entries(given)
    .filter(([, v]) => v !== undefined && v !== false)
    .map(([k]) => k);
  if (names.length) {
    throw new CliError(
      `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} not for ${engine === 'dump' ? 'the dump engine: add --engine pgbackrest' : '--engine pgbackrest'}.`,
    );
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function createBackupCliKit(deps: BackupCommandDeps) {
  const out = deps.out ?? ((t: string) => void process.stdout.write(t));
  const err = deps.err ?? ((t: string) => void process.stderr.write(t));
  const tty = deps.errIsTTY ?? (deps.err ? false : process.stderr.isTTY === true);

  /** A progress line redrawn on stderr (at most 10 times a second); nothing when not a TTY. */
  function progressLine() {
    let last = 0;
    let shown = false;
    return {
      onProgress: tty
        ? (p: BackupProgress) => {
            const t = Date.now();
            if (t - last < 100) return;
            last = t;
            shown = true;
            const done =
              p.percent !== undefined
                ? `: ${p.percent.toFixed(1)}%`
                : p.bytes
                  ? `: ${formatBytes(p.bytes)}`
                  : '…';
            err(`\r\x1b[2K${p.phase}${done}`);
          }
        : undefined,
      clear() {
        if (shown) err('\r\x1b[2K');
      },
    };
  }

  async function withSession<T>(
    target: string | undefined,
    fn: (s: BackupSession) => Promise<T>,
  ): Promise<T> {
    const p = progressLine();
    let session: BackupSession;
    try {
      session = await deps.backups({ target, onProgress: p.onProgress });
    } catch (err) {
      const pid = lockedBy(err);
      if (pid === undefined) throw err;
      throw new CliError(
        `${(err as Error).message.replace(/ Stop that process.*$/, '')} This command opens the ` +
          'database itself: stop that process first (backup create and list, restore and ' +
          'maintenance also run through the service).',
      );
    }
    try {
      return await fn(session);
    } finally {
      p.clear();
      await session.close();
    }
  }

  /**
   * Runs `fn` here when the database can be opened, else through the running service: when the
   * embedded database is held by it, or when --url (or CFN_URL) names it.
   */
  async function withBackend<T>(
    where: Where,
    cmd: Command,
    fn: (b: BackupBackend) => Promise<T>,
  ): Promise<T> {
    const p = progressLine();
    const source = cmd.getOptionValueSource('url');
    let backend: BackupBackend;
    if (source === 'cli' || source === 'env') {
      backend = viaService(where, p.onProgress, 'with --url (or CFN_URL)');
    } else {
      try {
        backend = directBackend(
          await deps.backups({ target: where.target, onProgress: p.onProgress }),
        );
      } catch (err) {
        const pid = lockedBy(err);
        if (pid === undefined) throw err;
        const local = source === 'default' ? deps.localService?.() : undefined;
        if (source === 'default' && deps.localService && !local) {
          throw new CliError(
            `The embedded database is in use by process ${pid}, which has not said where it listens ` +
              '(no CFN_DATA_DIR/service.json: still starting, or not `cfn start`?). Try again once it ' +
              'listens, or pass --url with its address.',
          );
        }
        backend = viaService(
          local ? { ...where, url: local } : where,
          p.onProgress,
          `because the embedded database is in use by the running service (pid ${pid})`,
        );
      }
    }
    try {
      return await fn(backend);
    } finally {
      p.clear();
      await backend.close();
    }
  }

  function viaService(
    where: Where,
    onProgress: ((p: BackupProgress) => void) | undefined,
    why: string,
  ): BackupBackend {
    if (!where.key) {
      throw new CliError(
        `This command runs through the service's API at ${where.url} ${why}, which needs an ` +
          'admin API key: pass --key or set CFN_API_KEY.',
      );
    }
    if (where.target) {
      throw new CliError(
        `--target is not available through the service (${why}): it uses its own BACKUP_TARGET.`,
      );
    }
    return serviceBackend({
      url: where.url,
      key: where.key,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      onProgress,
    });
  }

  /** --url: run through the service at this address (default only when its database is locked). */
  const serviceUrlOption = () =>
    urlOption().default(
      'http://127.0.0.1:3000',
      'http://127.0.0.1:3000, used when the running embedded service holds the database',
    );
  const targetOption = () =>
    new Option(
      '--target <dir|s3://bucket/prefix>',
      'where backups are (default: BACKUP_TARGET, else CFN_DATA_DIR/backups)',
    );
  const typeOption = (fallback?: BackupType) => {
    const o = new Option('--type <type>', 'database or app-data').choices(TYPES);
    return fallback ? o.default(fallback) : o;
  };
  const engineOption = () =>
    new Option(
      '--engine <engine>',
      'dump: pg_dump or the PGlite dump; pgbackrest: pgBackRest (needs PGBACKREST_STANZA)',
    )
      .choices(['dump', 'pgbackrest'])
      .default('dump');
  const physical = createPgBackRestCommands({
    open: (o) => {
      if (!deps.pgbackrest) throw new CliError('pgBackRest is not available in this program.');
      return deps.pgbackrest(o);
    },
    out,
    progressLine,
    formatBytes,
  });

  return {
    out,
    withSession,
    withBackend,
    serviceUrlOption,
    targetOption,
    typeOption,
    engineOption,
    physical,
  };
}

export type BackupCliKit = ReturnType<typeof createBackupCliKit>;
