// `cfn backup …` and `cfn dr drill`: parse, call the backup service the composition root opens
// (or, for create and list, the running service's API when it holds the embedded database or --url
// is given), print a table or JSON; progress goes to stderr on a TTY. `cfn restore` and
// `cfn maintenance` are in restore-commands.ts.
import { Command, Option } from 'commander';
import type { BackupType } from '../ports/backup.js';
import { CliError } from './api-client.js';
import { jsonOption, keyOption } from './command-kit.js';
import { formatTable } from './table.js';

import {
  createBackupCliKit,
  dumpType,
  formatBytes,
  refuse,
  type BackupCommandDeps,
  type Engine,
  type Where,
} from './backup-cli-kit.js';
import { registerRestoreCommands } from './restore-commands.js';

export function registerBackupCommands(program: Command, deps: BackupCommandDeps): void {
  const kit = createBackupCliKit(deps);
  const {
    out,
    withSession,
    withBackend,
    serviceUrlOption,
    targetOption,
    typeOption,
    engineOption,
    physical,
  } = kit;

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

  registerRestoreCommands(program, kit, deps);

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
