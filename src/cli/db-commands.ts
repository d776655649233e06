// `cfn db`: the database procedures of the guide, against the database the service is configured
// with (DATABASE_URL, or the embedded one), opened directly: no running service needed.
import { Option, type Command } from 'commander';
import type { SlowQueriesReport } from '../ops/slow-queries.js';
import { CliError } from './api-client.js';
import { jsonOption, positiveInt, resolveIo, type CliIoDeps } from './command-kit.js';
import { formatTable } from './table.js';

export interface DbCommandDeps extends CliIoDeps {
  slowQueries(limit: number): Promise<SlowQueriesReport>;
}

const oneLine = (q: string, max = 100) => {
  const flat = q.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

export function registerDbCommands(program: Command, deps: DbCommandDeps): void {
  const io = resolveIo(deps);
  const db = program
    .command('db')
    .description('the database: slow queries')
    .addHelpText('after', '\nExample:\n  $ cfn db slow-queries --limit 5');
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
}
