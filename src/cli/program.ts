// The `cfn` command line: parse arguments, call the service or the runtime through `deps`, print.
import { Command, Option } from 'commander';
import type { ApiKeyService, CreatedKey } from '../ops/api-keys.js';
import type { ApiKeyRecord } from '../ports/api-key-store.js';
import { ROLES, type Role } from '../domain/roles.js';
import { registerAgentCommands } from './agent-commands.js';
import type { BackupCommandDeps } from './backup-cli-kit.js';
import { registerBackupCommands } from './backup-commands.js';
import { CliError, createApiClient } from './api-client.js';
import { registerCertCommands } from './cert-commands.js';
import { registerDbCommands, type DbCommandDeps } from './db-commands.js';
import { jsonOption, keyOption, urlOption } from './command-kit.js';
import { registerLogCommands, type LogCommandDeps } from './log-commands.js';
import { registerSecurityCommands } from './security-commands.js';
import { registerSwarmCommands, type SwarmCommandDeps } from './swarm-commands.js';
import { formatTable } from './table.js';

export interface DirectKeys {
  service: ApiKeyService;
  close(): Promise<void>;
}

export interface CliDeps
  extends
    SwarmCommandDeps,
    LogCommandDeps,
    Pick<DbCommandDeps, 'slowQueries' | 'tuneDatabase'>,
    Pick<BackupCommandDeps, 'backups' | 'pgbackrest' | 'errIsTTY' | 'localService'> {
  version: string;
  /** Runs the service, or one part of it, until a signal stops it. */
  start(role: 'all' | 'api' | 'worker'): Promise<void>;
  migrate(): Promise<{ applied: number; total: number; database: string }>;
  /** Opens the database directly for key management without a running service (recovery). */
  directKeys(): Promise<DirectKeys>;
}

/** What every `cfn keys` command takes: where the service is, the key, or --direct. */
interface KeyCommandOptions {
  url: string;
  key?: string;
  direct?: boolean;
  json?: boolean;
}

interface KeyView {
  id: string;
  name: string;
  role: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  key?: string;
}

function viewOf(r: ApiKeyRecord, key?: string): KeyView {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    prefix: r.prefix,
    createdAt: r.createdAt.toISOString(),
    lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
    revokedAt: r.revokedAt?.toISOString() ?? null,
    ...(key ? { key } : {}),
  };
}

export function createProgram(deps: CliDeps): Command {
  const out = deps.out ?? ((t: string) => process.stdout.write(t));
  const program = new Command('cfn')
    .description('Claude Flow Novice: run swarms of AI agents as a durable, observable service.')
    .version(deps.version, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      `
Quick start:
  $ cfn start                                  # run the service (prints an admin key once)
  $ export CFN_API_KEY=cfn_...                 # that key, for the commands below
  $ cfn agents list
  $ cfn run "Add a /health endpoint" --agent coder --validator reviewer`,
    );

  program
    .command('start')
    .description('start the whole service in one process: the API and the workers that run swarms')
    .addHelpText(
      'after',
      '\nWith no DATABASE_URL the embedded PGlite database under CFN_DATA_DIR is used.\n' +
        'On first start an admin API key is created and printed once.\n\n' +
        'Example:\n  $ PORT=3000 cfn start',
    )
    .action(async () => deps.start('all'));

  program
    .command('serve')
    .description('start an API replica only (swarms run on `cfn worker` replicas)')
    .addHelpText(
      'after',
      '\nNeeds DATABASE_URL and REDIS_URL, shared with the worker replicas. Scale it on HTTP load.\n\n' +
        'Example:\n  $ DATABASE_URL=postgres://… REDIS_URL=redis://… PORT=3000 cfn serve',
    )
    .action(async () => deps.start('api'));

  program
    .command('worker')
    .description(
      'start a worker replica only: runs agent tasks and swarm steps from the shared queue',
    )
    .addHelpText(
      'after',
      '\nNeeds DATABASE_URL and REDIS_URL, shared with the API replicas. Serves only /health and\n' +
        '/metrics on PORT (for probes and Prometheus). Scale it on queue depth.\n\n' +
        'Example:\n  $ DATABASE_URL=postgres://… REDIS_URL=redis://… PORT=3001 cfn worker',
    )
    .action(async () => deps.start('worker'));

  program
    .command('migrate')
    .description('apply database migrations (safe to run from several processes at once)')
    .addHelpText('after', '\nExample:\n  $ DATABASE_URL=postgres://cfn@db/cfn cfn migrate')
    .action(async () => {
      const r = await deps.migrate();
      out(`${r.database}: ${r.applied} migration(s) applied, ${r.total} in total\n`);
    });

  program
    .command('health')
    .description('check a running service; exit 0 only when it is healthy (like curl -f)')
    .addHelpText('after', '\nExample:\n  $ cfn health --url http://127.0.0.1:3000 --json')
    .addOption(urlOption())
    .addOption(jsonOption())
    .action(async (opts: { url: string; json?: boolean }) => {
      const client = createApiClient({
        url: opts.url,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      });
      const res = await client.request<{
        status?: string;
        version?: string;
        uptimeSeconds?: number;
        checks?: Record<string, { status: string; latencyMs: number; error?: string }>;
        sandbox?: { status: string; detail: string };
      }>('GET', '/health');
      if (opts.json) out(JSON.stringify(res.body, null, 2) + '\n');
      else {
        const b = res.body ?? {};
        const rows = Object.entries(b.checks ?? {}).map(([name, c]) => [
          name,
          c.status,
          `${c.latencyMs} ms`,
          c.error ?? '',
        ]);
        out(formatTable(['CHECK', 'STATUS', 'LATENCY', 'ERROR'], rows));
        out(
          `\nstatus ${b.status ?? `HTTP ${res.status}`}, version ${b.version ?? '?'}, up ${b.uptimeSeconds ?? '?'} s\n`,
        );
        if (b.sandbox) out(`command sandbox ${b.sandbox.status}: ${b.sandbox.detail}\n`);
      }
      if (res.status !== 200) throw new CliError('', 1);
    });

  const keys = program
    .command('keys')
    .description('manage API keys (admin)')
    .addHelpText('after', '\nExample:\n  $ cfn keys create --name ci-bot --role operator');

  async function withKeys<T>(
    given: KeyCommandOptions,
    cmd: Command,
    viaApi: (client: ReturnType<typeof createApiClient>) => Promise<T>,
    direct: (service: ApiKeyService) => Promise<T>,
  ): Promise<T> {
    // Without --url, the embedded service running on this data directory is the one to call.
    const local = cmd.getOptionValueSource('url') === 'default' ? deps.localService?.() : undefined;
    const opts = local ? { ...given, url: local } : given;
    if (opts.direct) {
      let d: DirectKeys | undefined;
      try {
        d = await deps.directKeys();
      } catch (err) {
        // The running embedded service holds the database: it manages keys through its API.
        const e = err as { code?: string; details?: { pid?: number } };
        if (e.code !== 'DATA_DIR_LOCKED') throw err;
        if (!opts.key) {
          throw new CliError(
            `The embedded database is in use by the running service (pid ${e.details?.pid ?? '?'}): ` +
              `drop --direct and pass an admin key (--key or CFN_API_KEY) to manage keys through its API at ${opts.url}.`,
          );
        }
      }
      if (d) {
        try {
          return await direct(d.service);
        } finally {
          await d.close();
        }
      }
    }
    if (!opts.key) {
      throw new CliError(
        'An admin API key is needed: pass --key or set CFN_API_KEY (or use --direct on the server).',
      );
    }
    return viaApi(
      createApiClient({
        url: opts.url,
        key: opts.key,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      }),
    );
  }

  const directOption = () =>
    new Option(
      '--direct',
      'open the database directly instead of calling the API (service stopped, or recovery)',
    );
  const CLI_ACTOR = { keyId: null, name: 'cli' };

  keys
    .command('create')
    .description('create a key; the secret is printed once')
    .addHelpText('after', '\nExample:\n  $ cfn keys create --name ci-bot --role operator')
    .requiredOption('--name <name>', 'who or what the key is for')
    .addOption(new Option('--role <role>', 'what the key may do').choices(ROLES).default('viewer'))
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(directOption())
    .addOption(jsonOption())
    .action(async (opts: KeyCommandOptions & { name: string; role: Role }, cmd: Command) => {
      const created = await withKeys<KeyView>(
        opts,
        cmd,
        (c) => c.call<KeyView>('POST', '/api/keys', { name: opts.name, role: opts.role }),
        async (s) => {
          const r: CreatedKey = await s.create({ name: opts.name, role: opts.role }, CLI_ACTOR);
          return viewOf(r.record, r.key);
        },
      );
      if (opts.json) out(JSON.stringify(created, null, 2) + '\n');
      else
        out(
          `Created ${created.role} key "${created.name}" (${created.id}). Secret, shown once:\n\n  ${created.key}\n\n`,
        );
    });

  keys
    .command('list')
    .description('list keys (secrets are never shown)')
    .addHelpText('after', '\nExample:\n  $ cfn keys list --all --json')
    .option('--all', 'include revoked keys')
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(directOption())
    .addOption(jsonOption())
    .action(async (opts: KeyCommandOptions & { all?: boolean }, cmd: Command) => {
      const items = await withKeys<KeyView[]>(
        opts,
        cmd,
        async (c) =>
          (
            await c.call<{ items: KeyView[] }>(
              'GET',
              `/api/keys${opts.all ? '?includeRevoked=true' : ''}`,
            )
          ).items,
        async (s) => (await s.list({ includeRevoked: Boolean(opts.all) })).map((r) => viewOf(r)),
      );
      if (opts.json) out(JSON.stringify(items, null, 2) + '\n');
      else
        out(
          formatTable(
            ['ID', 'NAME', 'ROLE', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
            items.map((k) => [
              k.id,
              k.name,
              k.role,
              k.prefix,
              k.createdAt,
              k.lastUsedAt ?? '-',
              k.revokedAt ?? '-',
            ]),
          ),
        );
    });

  keys
    .command('revoke')
    .description('revoke a key by id; it stops working at once')
    .addHelpText('after', '\nExample:\n  $ cfn keys revoke 7d5f3c1e-…  (ids from `cfn keys list`)')
    .argument('<id>', 'the key id (see `cfn keys list`)')
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(directOption())
    .action(async (id: string, opts: KeyCommandOptions, cmd: Command) => {
      const k = await withKeys<KeyView>(
        opts,
        cmd,
        (c) => c.call<KeyView>('DELETE', `/api/keys/${encodeURIComponent(id)}`),
        async (s) => viewOf(await s.revoke(id, CLI_ACTOR)),
      );
      out(`Revoked key "${k.name}" (${k.id}).\n`);
    });

  registerSwarmCommands(program, deps);
  registerAgentCommands(program, deps);
  registerLogCommands(program, deps);
  registerSecurityCommands(program, deps);
  registerBackupCommands(program, deps);
  registerCertCommands(program, deps);
  registerDbCommands(program, deps);

  return program;
}
