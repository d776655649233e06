// `cfn backup …`, `cfn restore`, `cfn maintenance …` and `cfn dr drill`: parse, call the backup
// service the composition root opens (or, for create, list, restore and maintenance, the running
// service's API when it holds the embedded database or --url is given), print a table or JSON;
// progress goes to stderr on a TTY.
import path from 'node:path';
import { Command, Option } from 'commander';
import { isFileRef } from '../ops/backup-reader.js';
import type { BackupProgress } from '../ops/backup-service.js';
import type { MaintenanceReport } from '../ops/maintenance-switch.js';
import type { BackupType } from '../ports/backup.js';
import { CliError } from './api-client.js';
import {
  directBackend,
  serviceBackend,
  serviceHealth,
  type BackupBackend,
  type BackupSession,
} from './backup-backend.js';
import { jsonOption, keyOption, shellArg, urlOption } from './command-kit.js';
import { createPgBackRestCommands, type OpenPhysicalBackups } from './pgbackrest-commands.js';
import { formatMaintenance, formatPlan, formatRestore } from './restore-format.js';
import { formatTable } from './table.js';

export type { BackupSession } from './backup-backend.js';

/** The options that say where a command runs. */
interface Where {
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

const TYPES: BackupType[] = ['database', 'app-data'];
type Engine = 'dump' | 'pgbackrest';

function dumpType(type: string | undefined, fallback: BackupType): BackupType {
  if (type === undefined) return fallback;
  if (!(TYPES as string[]).includes(type)) {
    throw new CliError(
      `--type is database or app-data, not "${type}" (full, diff and incr need --engine pgbackrest).`,
    );
  }
  return type as BackupType;
}

/** Options of the dump engine that mean nothing to pgBackRest (or the other way round). */
function refuse(engine: Engine, given: Record<string, unknown>): void {
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

export function registerBackupCommands(program: Command, deps: BackupCommandDeps): void {
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

  const backup = program
    .command('backup')
    .description('create, list, verify and prune backups')
    .addHelpText(
      'after',
      '\nExamples:\n  $ cfn backup create\n  $ cfn backup create --type app-data --target s3://bucket/cfn\n' +
        '  $ cfn backup create --engine pgbackrest --type incr\n' +
        '  $ cfn backup verify latest\n  $ cfn backup prune --dry-run',
    );

  backup
    .command('create')
    .description(
      'back up the database (pg_dump or PGlite dump, or pgBackRest full/diff/incr) or the application data',
    )
    .addOption(engineOption())
    .addOption(
      new Option(
        '--type <type>',
        'database (default) or app-data; with --engine pgbackrest: full, diff or incr (default incr)',
      ),
    )
    .addOption(targetOption())
    .option('--include-secrets', 'app data: also record secret settings (keys, tokens, URLs)')
    .addOption(serviceUrlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(
      async (
        opts: Where & {
          engine: Engine;
          type?: string;
          includeSecrets?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.engine === 'pgbackrest') {
          refuse('pgbackrest', {
            '--target': opts.target,
            '--include-secrets': opts.includeSecrets,
          });
          return physical.create(opts);
        }
        const type = dumpType(opts.type, 'database');
        const m = await withBackend(opts, cmd, (b) =>
          b.create({ type, includeSecrets: Boolean(opts.includeSecrets) }),
        );
        if (opts.json) out(JSON.stringify(m, null, 2) + '\n');
        else {
          const rows = m.database
            ? `, ${Object.values(m.database.rowCounts).reduce((a, b) => a + b, 0)} rows in ${Object.keys(m.database.rowCounts).length} tables`
            : `, ${m.appData?.entries.length ?? 0} entries`;
          out(
            `Created ${m.type} backup ${m.id}: ${m.key} (${formatBytes(m.sizeBytes)}${rows}` +
              `${m.encryption ? ', encrypted' : ''}) in ${(m.durationMs / 1000).toFixed(1)} s.\n` +
              `Check it with \`cfn backup verify ${m.id}\`.\n`,
          );
        }
      },
    );

  backup
    .command('list')
    .description('backups in the target (or the pgBackRest repository), newest first')
    .addOption(engineOption())
    .addOption(typeOption())
    .addOption(targetOption())
    .addOption(serviceUrlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(
      async (opts: Where & { engine: Engine; type?: BackupType; json?: boolean }, cmd: Command) => {
        if (opts.engine === 'pgbackrest') {
          refuse('pgbackrest', { '--type': opts.type, '--target': opts.target });
          return physical.list(opts);
        }
        const items = await withBackend(opts, cmd, (b) => b.list(opts.type));
        if (opts.json) {
          out(JSON.stringify(items, null, 2) + '\n');
          return;
        }
        if (!items.length) {
          out('No backups yet. Create one with `cfn backup create`.\n');
          return;
        }
        out(
          formatTable(
            ['ID', 'TYPE', 'CREATED', 'SIZE', 'ENCRYPTED', 'VERIFIED'],
            items.map(({ manifest: m, verifiedAt }) => [
              m.id,
              m.type,
              m.createdAt,
              formatBytes(m.sizeBytes),
              m.encryption ? 'yes' : 'no',
              verifiedAt ? verifiedAt.toISOString() : '-',
            ]),
          ),
        );
      },
    );

  backup
    .command('verify')
    .description(
      'check a backup: checksum, then a test restore into a scratch database (pgBackRest: the whole repository)',
    )
    .argument('[id|latest]', 'a backup id (`cfn backup list`) or latest (the default)')
    .addOption(engineOption())
    .addOption(typeOption())
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      async (
        ref: string | undefined,
        opts: { engine: Engine; type?: BackupType; target?: string; json?: boolean },
      ) => {
        if (opts.engine === 'pgbackrest') {
          refuse('pgbackrest', { '--type': opts.type, '--target': opts.target });
          return physical.verify(ref, opts);
        }
        const r = await withSession(opts.target, (s) =>
          s.service.verify(ref ?? 'latest', opts.type),
        );
        if (opts.json) out(JSON.stringify(r, null, 2) + '\n');
        else
          out(
            `Backup ${r.id} is good: sha256 matches, ` +
              (r.rowCounts
                ? `test restore has ${Object.values(r.rowCounts).reduce((a, b) => a + b, 0)} rows in ${Object.keys(r.rowCounts).length} tables as recorded`
                : `${r.entries} archive entries`) +
              ` (${(r.durationMs / 1000).toFixed(1)} s).\n`,
          );
      },
    );

  backup
    .command('prune')
    .description(
      'delete backups past retention (database 30 days + monthly for 1 year, app data 90 days)',
    )
    .option('--dry-run', 'only show what would be deleted')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(async (opts: { dryRun?: boolean; target?: string; json?: boolean }) => {
      const r = await withSession(opts.target, (s) =>
        s.service.prune({ dryRun: Boolean(opts.dryRun) }),
      );
      if (opts.json) {
        out(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      out(
        formatTable(
          ['ID', 'TYPE', 'CREATED', 'ACTION', 'REASON'],
          r.decisions.map((d) => [
            d.id,
            d.type,
            d.createdAt,
            d.keep ? 'keep' : r.dryRun ? 'would delete' : 'deleted',
            d.reason,
          ]),
        ),
      );
      const n = r.decisions.filter((d) => !d.keep).length;
      out(
        r.dryRun
          ? `\n${n} backup(s) would be deleted; run without --dry-run to delete them.\n`
          : `\n${n} backup(s) deleted.\n`,
      );
    });

  program
    .command('restore')
    .description(
      'replace the database with a backup (maintenance mode during the restore), or write a ' +
        'data directory from pgBackRest to a point in time',
    )
    .argument(
      '[id|latest]',
      'a database backup id (`cfn backup list`) or latest; pgBackRest: a backup label, default latest',
    )
    .option('--yes', 'confirm: the current database content is replaced')
    .option(
      '--keep-maintenance',
      'leave maintenance on after the restore (check the data, then `cfn maintenance off`)',
    )
    .option('--into <dir>', 'app-data backups: extract into this new or empty directory')
    .addOption(engineOption())
    .option(
      '--to <time>',
      'pgbackrest: recover to this time, with its zone ("2026-03-01 14:30:00+00"); default: to the end of the WAL',
    )
    .option(
      '--pg-data <dir>',
      'pgbackrest: the new or empty data directory to write (default: pg1-path of the stanza)',
    )
    .addOption(typeOption())
    .addOption(targetOption())
    .addOption(serviceUrlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ cfn restore latest --yes\n' +
        '  $ cfn restore ./claude_flow_backup_20260301_020000.sql.gz --yes   # a file, with or without its manifest\n' +
        '  $ cfn restore latest --type app-data --into ./restored\n' +
        '  $ cfn restore --engine pgbackrest --to "2026-03-01 14:30:00+00" --pg-data /var/lib/postgresql/15/restored\n\n' +
        'Without --yes it checks the backup and says what the current database would lose.\n' +
        'Every running replica stops (maintenance, acknowledged) before anything is replaced.',
    )
    .action(
      async (
        refArg: string | undefined,
        opts: Where & {
          yes?: boolean;
          keepMaintenance?: boolean;
          into?: string;
          engine: Engine;
          to?: string;
          pgData?: string;
          type?: BackupType;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.engine === 'pgbackrest') {
          refuse('pgbackrest', {
            '--into': opts.into,
            '--type': opts.type,
            '--target': opts.target,
            '--keep-maintenance': opts.keepMaintenance,
          });
          return physical.restore(refArg, opts);
        }
        refuse('dump', { '--to': opts.to, '--pg-data': opts.pgData });
        if (refArg === undefined) {
          throw new CliError(
            'restore takes a backup id (`cfn backup list`), latest, or the path of a dump file; nothing was changed.',
          );
        }
        // A file is named by its absolute path: the service (same host) resolves it as this shell.
        const ref = isFileRef(refArg) ? path.resolve(refArg) : refArg;
        if (opts.into || opts.type === 'app-data' || ref.startsWith('app-data-')) {
          if (!opts.into) {
            throw new CliError(
              `An app-data backup is extracted into a directory: add --into <new or empty dir>.`,
            );
          }
          const into = opts.into;
          const r = await withSession(opts.target, (s) => s.service.restoreAppData(ref, into));
          if (opts.json) out(JSON.stringify(r, null, 2) + '\n');
          else out(`Extracted ${r.id} into ${r.into} (${r.entries} entries).\n`);
          return;
        }
        if (!opts.yes) {
          // The confirmation is the truth about what would be lost: the backup checked, the diff.
          const plan = await withBackend(opts, cmd, (b) => b.restorePlan(ref));
          const confirm =
            `cfn restore ${shellArg(ref)} --yes` +
            `${opts.target ? ` --target ${shellArg(opts.target)}` : ''}` +
            `${opts.keepMaintenance ? ' --keep-maintenance' : ''}`;
          if (opts.json) out(JSON.stringify(plan, null, 2) + '\n');
          throw new CliError(opts.json ? '' : formatPlan(plan, confirm).trimEnd(), 1);
        }
        const { report, viaUrl } = await withBackend(opts, cmd, async (b) => ({
          report: await b.restore(ref, { keepMaintenance: Boolean(opts.keepMaintenance) }),
          viaUrl: b.url,
        }));
        if (viaUrl && report.service.status !== 'stopped') {
          // The service ran the restore; ask it once more, as a client would.
          const h = await serviceHealth(viaUrl, deps.fetch);
          if (h.status !== 'healthy') {
            report.service = {
              ...report.service,
              status: h.status === 'unreachable' ? 'stopped' : 'unhealthy',
              detail: `${h.status}: ${h.detail}`,
            };
          }
        }
        if (opts.json) out(JSON.stringify(report, null, 2) + '\n');
        else out(formatRestore(report));
      },
    );

  const maintenance = program
    .command('maintenance')
    .description('maintenance mode: readiness false, writes answered 503, workers paused')
    .addHelpText(
      'after',
      '\nExamples:\n  $ cfn maintenance on --reason "disk swap"\n  $ cfn maintenance off',
    );
  /** A maintenance subcommand: where it runs, what it calls, how its report reads. */
  const maintenanceCommand = (
    c: Command,
    call: (b: BackupBackend, opts: { reason: string }) => Promise<MaintenanceReport>,
    text: (m: MaintenanceReport) => string = formatMaintenance,
  ) =>
    c
      .addOption(serviceUrlOption())
      .addOption(keyOption())
      .addOption(jsonOption())
      .action(async (opts: Where & { reason: string; json?: boolean }, cmd: Command) => {
        const m = await withBackend(opts, cmd, (b) => call(b, opts));
        out(opts.json ? JSON.stringify(m, null, 2) + '\n' : text(m));
      });
  maintenanceCommand(
    maintenance
      .command('on')
      .description('turn maintenance mode on and wait until every running replica acknowledged it')
      .option('--reason <text>', 'shown in 503 answers and readiness', 'maintenance'),
    (b, opts) => b.maintenanceOn(opts.reason),
    (m) => formatMaintenance(m).replace(/\.\n/, '. Turn it off with `cfn maintenance off`.\n'),
  );
  maintenanceCommand(
    maintenance
      .command('off')
      .description('turn maintenance mode off and wait until every replica resumed'),
    (b) => b.maintenanceOff(),
  );
  maintenanceCommand(
    maintenance
      .command('status')
      .description('show whether maintenance mode is on, and the replicas running'),
    (b) => b.maintenanceStatus(),
  );

  const dr = program.command('dr').description('disaster recovery');
  dr.command('drill')
    .description('restore the newest backup into a scratch database and report RTO and RPO')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(async (opts: { target?: string; json?: boolean }) => {
      const r = await withSession(opts.target, (s) => s.service.drill());
      if (opts.json) out(JSON.stringify(r, null, 2) + '\n');
      else {
        out(
          formatTable(
            ['CHECK', 'RESULT', 'DETAIL'],
            r.checks.map((c) => [c.name, c.ok ? 'ok' : 'FAILED', c.detail]),
          ),
        );
        out(
          `\nBackup ${r.id} (${r.backupCreatedAt})\n  RTO (time to restore): ${r.rtoSeconds.toFixed(1)} s\n` +
            `  RPO (age of newest data): ${Math.round(r.rpoSeconds)} s\n  Result: ${r.ok ? 'passed' : 'FAILED'}\n`,
        );
      }
      if (!r.ok)
        throw new CliError(
          'The drill failed: see the checks above; run `cfn backup verify latest` for details.',
          2,
        );
    });
}
