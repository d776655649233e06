// `cfn db`: the database procedures of the guide, against the database the service is configured
// with (DATABASE_URL, or the embedded one), opened directly: no running service needed.
import { Option, type Command } from 'commander';
import type { SettingReport } from '../ops/db-tuning.js';
import type { SlowQueriesReport } from '../ops/slow-queries.js';
import { CliError } from './api-client.js';
import { jsonOption, positiveInt, resolveIo, type CliIoDeps } from './command-kit.js';
import { formatTable } from './table.js';

export interface TuneRequest {
  /** The database host's memory; undefined: this machine's, when the database runs here. */
  memoryBytes: number | undefined;
  apply: boolean;
}

export type TuneOutcome =
  | { ok: true; memoryBytes: number; settings: SettingReport[] }
  | { ok: false; message: string; exitCode: 1 | 2 };

export interface DbCommandDeps extends CliIoDeps {
  slowQueries(limit: number): Promise<SlowQueriesReport>;
  tuneDatabase(request: TuneRequest): Promise<TuneOutcome>;
}

/** `512MB`, `8GB`, `8GiB`, `2048M`: bytes. */
export function parseMemory(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(m|mb|mib|g|gb|gib)$/i.exec(value.trim());
  if (!m) throw new CliError(`--memory: expected a size such as 8GB or 512MB, got "${value}"`, 2);
  const unit = m[2]!.toLowerCase().startsWith('g') ? 1024 ** 3 : 1024 ** 2;
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes < 256 * 1024 ** 2) throw new CliError('--memory: at least 256MB', 2);
  return bytes;
}

const oneLine = (q: string, max = 100) => {
  const flat = q.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

export function registerDbCommands(program: Command, deps: DbCommandDeps): void {
  const io = resolveIo(deps);
  const db = program
    .command('db')
    .description('the database: slow queries, settings')
    .addHelpText('after', '\nExamples:\n  $ cfn db slow-queries --limit 5\n  $ cfn db tune');
  db.command('slow-queries')
    .description(
      "this database's statements with the highest mean execution time (pg_stat_statements)",
    )
    .addOption(new Option('--limit <n>', 'how many statements').argParser(positiveInt).default(10))
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nThe guide\'s "Analyze slow queries" with the columns of PostgreSQL 13 and later\n' +
        '(mean_exec_time). Exit code 1 when pg_stat_statements is not available, with how to\n' +
        'enable it.\n\nExample:\n  $ DATABASE_URL=postgres://claudeflow@db/claudeflow cfn db slow-queries --json',
    )
    .action(async (opts: { limit: number; json?: boolean }) => {
      const report = await deps.slowQueries(opts.limit);
      if (!report.available) {
        if (opts.json) io.out(JSON.stringify(report, null, 2) + '\n');
        throw new CliError(report.message, 1);
      }
      if (opts.json) {
        io.out(JSON.stringify(report.queries, null, 2) + '\n');
        return;
      }
      if (!report.queries.length) {
        io.out('no statements recorded yet (pg_stat_statements was reset or is new)\n');
        return;
      }
      io.out(
        formatTable(
          ['MEAN MS', 'CALLS', 'TOTAL MS', 'ROWS', 'QUERY'],
          report.queries.map((q) => [
            q.meanMs.toFixed(2),
            String(q.calls),
            q.totalMs.toFixed(1),
            String(q.rows),
            oneLine(q.query),
          ]),
        ) + '\n',
      );
    });

  db.command('tune')
    .description(
      "the guide's PostgreSQL settings scaled to the host's memory, against the server's",
    )
    .addOption(
      new Option(
        '--memory <size>',
        "the database host's memory (default: this machine's, when the database runs here)",
      ).argParser(parseMemory),
    )
    .option('--apply', 'ALTER SYSTEM the settings that differ, then reload the configuration')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      "\nThe guide's values are the baseline (a 1 GiB server); above it shared_buffers is 1/4 of the\n" +
        'memory, effective_cache_size 3/4, maintenance_work_mem 1/16 (at most 2GB). --apply needs a\n' +
        'superuser (on RDS set them in the parameter group); shared_buffers and wal_buffers then wait\n' +
        'for a restart of PostgreSQL, which the report says.\n\n' +
        'Exit code: 0 every setting as recommended (after --apply: or waiting for a restart),\n' +
        '1 some differ, 2 the settings could not be read or applied.\n\n' +
        'Examples:\n  $ cfn db tune --memory 8GB\n  $ cfn db tune --apply --json',
    )
    .action(async (opts: { memory?: number; apply?: boolean; json?: boolean }) => {
      const outcome = await deps.tuneDatabase({
        memoryBytes: opts.memory,
        apply: opts.apply === true,
      });
      if (!outcome.ok) throw new CliError(outcome.message, outcome.exitCode);
      const { settings } = outcome;
      if (opts.json) io.out(JSON.stringify(outcome, null, 2) + '\n');
      else {
        io.out(
          `for a host of ${(outcome.memoryBytes / 1024 ** 3).toFixed(1)} GiB\n` +
            formatTable(
              ['SETTING', 'CURRENT', 'RECOMMENDED', 'STATE'],
              settings.map((s) => [
                s.name,
                s.current,
                s.recommended,
                s.matches ? 'ok' : s.pendingRestart ? 'set, waits for a restart' : 'differs',
              ]),
            ) +
            '\n',
        );
        const pending = settings.filter((s) => !s.matches && s.pendingRestart).map((s) => s.name);
        if (pending.length) io.out(`restart PostgreSQL to apply: ${pending.join(', ')}\n`);
        else if (!opts.apply && settings.some((s) => !s.matches))
          io.out('run `cfn db tune --apply` to set them (ALTER SYSTEM, then a reload)\n');
      }
      const open = settings.filter((s) => !s.matches && !(opts.apply && s.pendingRestart));
      if (open.length) throw new CliError('', 1);
    });
}
