// `cfn restore` and `cfn maintenance …`: a restore replaces the database once every running
// replica has acknowledged maintenance (on the database here, or through the running service's
// API when it holds the embedded database or --url is given); its confirmation and its report say
// what the current database loses and how the service is afterwards.
import path from 'node:path';
import type { Command } from 'commander';
import { isFileRef } from '../ops/backup-reader.js';
import type { MaintenanceReport } from '../ops/maintenance-switch.js';
import type { BackupType } from '../ports/backup.js';
import { CliError } from './api-client.js';
import { serviceHealth, type BackupBackend } from './backup-backend.js';
import { jsonOption, keyOption, shellArg } from './command-kit.js';
import { formatMaintenance, formatPlan, formatRestore } from './restore-format.js';
import {
  refuse,
  type BackupCliKit,
  type BackupCommandDeps,
  type Engine,
  type Where,
} from './backup-cli-kit.js';

export function registerRestoreCommands(
  program: Command,
  kit: BackupCliKit,
  deps: Pick<BackupCommandDeps, 'fetch'>,
): void {
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
}
