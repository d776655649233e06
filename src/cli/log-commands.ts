// `cfn logs prune`: applies the log retention (application log files, audit-log rows) through the
// runtime and prints what it removed, as text or JSON.
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { LogPruneResult } from '../ops/log-retention.js';
import { jsonOption, positiveInt, resolveIo, type CliIoDeps } from './command-kit.js';

export interface LogCommandDeps extends CliIoDeps {
  /** Runs the retention on the configured database; `logDir` undefined means LOG_DIR. */
  pruneLogs(options: {
    logDir: string | undefined;
    appDays: number;
    auditDays: number;
    dryRun: boolean;
  }): Promise<LogPruneResult>;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatPrune(r: LogPruneResult, appDays: number, auditDays: number): string {
  const verb = r.dryRun ? 'Would remove' : 'Removed';
  const lines: string[] = [];
  if (r.logDir === null) {
    lines.push('No log directory (LOG_DIR unset and no --dir): log files not checked.');
  } else {
    lines.push(
      `${verb} ${r.files.length} log file(s) older than ${appDays} days from ${r.logDir}${r.files.length ? ':' : '.'}`,
    );
    for (const f of r.files)
      lines.push(`  ${path.basename(f.path)}  ${f.modifiedAt.toISOString()}  ${size(f.bytes)}`);
  }
  lines.push(
    `${verb} ${r.auditRows} audit log row(s) older than ${auditDays} days (before ${r.auditCutoff.toISOString()}).`,
  );
  if (r.dryRun) lines.push('Dry run: nothing was deleted. Run again without --dry-run to delete.');
  return lines.join('\n') + '\n';
}

export function registerLogCommands(program: Command, deps: LogCommandDeps): void {
  const io = resolveIo(deps);
  const logs = program
    .command('logs')
    .description('log retention')
    .addHelpText('after', '\nExample:\n  $ cfn logs prune --dry-run');
  logs
    .command('prune')
    .description(
      'delete application log files older than --app-days and audit-log rows older than --audit-days',
    )
    .addHelpText(
      'after',
      '\nLog files are *.log, *.log.N and their .gz in the directory (not recursive), by modification time.\n' +
        'The pruning is itself recorded in the audit log (action audit.prune).\n\n' +
        'Examples:\n  $ cfn logs prune --dry-run\n  $ cfn logs prune --dir /var/log/claude-flow --app-days 30 --audit-days 90 --json',
    )
    .option('--dir <dir>', 'log directory (default: LOG_DIR)')
    .addOption(
      new Option('--app-days <days>', 'keep application log files this many days')
        .argParser(positiveInt)
        .default(30),
    )
    .addOption(
      new Option('--audit-days <days>', 'keep audit-log rows this many days')
        .argParser(positiveInt)
        .default(90),
    )
    .option('--dry-run', 'only print what would be deleted')
    .addOption(jsonOption())
    .action(
      async (opts: {
        dir?: string;
        appDays: number;
        auditDays: number;
        dryRun?: boolean;
        json?: boolean;
      }) => {
        const result = await deps.pruneLogs({
          logDir: opts.dir === undefined ? undefined : path.resolve(opts.dir),
          appDays: opts.appDays,
          auditDays: opts.auditDays,
          dryRun: opts.dryRun === true,
        });
        if (opts.json) {
          io.out(
            JSON.stringify(
              {
                dryRun: result.dryRun,
                logDir: result.logDir,
                appDays: opts.appDays,
                auditDays: opts.auditDays,
                appCutoff: result.appCutoff.toISOString(),
                auditCutoff: result.auditCutoff.toISOString(),
                files: result.files.map((f) => ({
                  path: f.path,
                  modifiedAt: f.modifiedAt.toISOString(),
                  bytes: f.bytes,
                })),
                auditRows: result.auditRows,
              },
              null,
              2,
            ) + '\n',
          );
        } else io.out(formatPrune(result, opts.appDays, opts.auditDays));
      },
    );
}
