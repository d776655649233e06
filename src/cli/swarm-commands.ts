// `cfn run` (submit a swarm and watch it) and `cfn swarms list|show|follow|cancel|decide`.
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { DECISIONS, MODES, STRATEGIES, type Decision } from '../domain/cfn/modes.js';
import { TERMINAL_STATUSES } from '../domain/cfn/spec.js';
import type { SwarmDetailView, SwarmPage, SwarmRecordView } from './api-types.js';
import {
  clientFor,
  collect,
  jsonOption,
  keyOption,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
  resolveIo,
  shellArg,
  urlOption,
  type CliIoDeps,
  type ConnectionOptions,
} from './command-kit.js';
import { watchSwarm, type WatchOptions } from './live-view.js';
import { formatTable } from './table.js';
import { formatSwarmDetail, SWARM_LIST_HEADER, swarmRow } from './swarm-format.js';

const STATUSES = ['queued', 'running', 'awaiting_decision', ...TERMINAL_STATUSES] as const;

export interface SwarmCommandDeps extends CliIoDeps {
  /** Stream reconnection tuning (tests shorten it). */
  follow?: WatchOptions['follow'];
}

interface RunOptions extends ConnectionOptions {
  strategy: string;
  mode: string;
  agent?: string[];
  validator?: string[];
  validatorCmd?: string[];
  productOwner?: string;
  workspace?: string;
  network?: boolean;
  budgetUsd?: number;
  budgetTokens?: number;
  approval: 'auto' | 'human';
  maxIterations?: number;
  json?: boolean;
  follow: boolean;
}

/** The POST /api/swarms body for `cfn run`'s options (the server applies its defaults). */
export function runBody(objective: string, o: RunOptions): Record<string, unknown> {
  const validators = [
    ...(o.validator ?? []),
    ...(o.validatorCmd ?? []).map((command) => ({ command })),
  ];
  const budget = {
    ...(o.budgetUsd !== undefined ? { maxCostUsd: o.budgetUsd } : {}),
    ...(o.budgetTokens !== undefined ? { maxTokens: o.budgetTokens } : {}),
  };
  return {
    objective,
    strategy: o.strategy,
    mode: o.mode,
    approval: o.approval,
    ...(o.agent?.length ? { agents: o.agent } : {}),
    ...(validators.length ? { validators } : {}),
    ...(o.productOwner ? { productOwner: o.productOwner } : {}),
    ...(o.workspace ? { workspace: o.workspace } : {}),
    ...(o.network ? { network: true } : {}),
    ...(Object.keys(budget).length ? { budget } : {}),
    ...(o.maxIterations !== undefined ? { maxIterations: o.maxIterations } : {}),
  };
}

const swarmPath = (id: string, rest = '') => `/api/swarms/${encodeURIComponent(id)}${rest}`;

function parseDecision(value: string): Decision {
  const d = value.toUpperCase();
  if (!(DECISIONS as readonly string[]).includes(d))
    throw new InvalidArgumentError(`expected one of ${DECISIONS.join(', ')}`);
  return d as Decision;
}

export function registerSwarmCommands(program: Command, deps: SwarmCommandDeps): void {
  const io = resolveIo(deps);

  program
    .command('run')
    .description('submit a swarm and follow its progress until it ends')
    .argument('<objective>', 'what the swarm should achieve')
    .addOption(
      new Option('--strategy <strategy>', 'how agents are organised')
        .choices(STRATEGIES)
        .default('cfn-loop'),
    )
    .addOption(
      new Option('--mode <mode>', 'thresholds and iteration limit')
        .choices(MODES)
        .default('standard'),
    )
    .option(
      '--agent <name>',
      'an implementer (repeatable; default: coder, or coder and tester for hierarchical)',
      collect,
    )
    .option(
      '--validator <agent>',
      'a validator agent (repeatable; default: reviewer for cfn-loop, none otherwise)',
      collect,
    )
    .option(
      '--validator-cmd <command>',
      'a command validator run in the workspace, e.g. "npm test" (repeatable)',
      collect,
    )
    .option('--product-owner <agent>', 'an agent deciding PROCEED/ITERATE/ABORT after consensus')
    .option(
      '--workspace <dir>',
      "directory the agents work in (relative paths resolve under the service's CFN_WORKSPACE_ROOTS)",
    )
    .option(
      '--network',
      "let the swarm's commands reach the network (the server must allow it: CFN_SANDBOX_NETWORK=allow)",
    )
    .option('--budget-usd <usd>', 'stop the swarm when it would spend more', positiveNumber)
    .option('--budget-tokens <n>', 'stop the swarm when it would use more tokens', positiveInt)
    .addOption(
      new Option('--approval <who>', 'who decides after consensus: the policy/agent, or you')
        .choices(['auto', 'human'])
        .default('auto'),
    )
    .option('--max-iterations <n>', "override the mode's iteration limit", positiveInt)
    .option('--no-follow', 'print the swarm id and exit right after submission')
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(new Option('--json', 'print each event as one JSON line (NDJSON)'))
    .addHelpText(
      'after',
      `
Exit status: 0 when the swarm completed (PROCEED), 2 when it ended otherwise (aborted, exhausted,
failed, cancelled, budget_exceeded), 1 on errors, 130 after Ctrl-C (which cancels the swarm).

Examples:
  $ cfn run "Add a /health endpoint" --agent coder --validator reviewer --mode mvp
  $ cfn run "Fix the failing tests" --workspace my-app --validator-cmd "npm test" --budget-usd 2
  $ cfn run "Draft a release plan" --approval human --no-follow
  $ cfn run "Summarise CHANGELOG.md" --json | jq -c 'select(.type == "task.succeeded")'`,
    )
    .action(async (objective: string, opts: RunOptions) => {
      const client = clientFor(opts, deps);
      const record = await client.call<SwarmRecordView>(
        'POST',
        '/api/swarms',
        runBody(objective, opts),
      );
      if (!opts.follow) {
        if (opts.json) io.out(JSON.stringify(record, null, 2) + '\n');
        else
          io.out(
            `Submitted swarm ${record.id} (${record.status}).\n` +
              `Follow it with: cfn swarms follow ${record.id}\n`,
          );
        return;
      }
      const intro =
        `Submitted swarm ${record.id}. Ctrl-C cancels it; ` +
        `\`cfn swarms follow ${record.id}\` watches it from elsewhere.\n`;
      if (opts.json) io.err(intro);
      else io.out(intro);
      await watchSwarm({
        client,
        io,
        swarmId: record.id,
        json: Boolean(opts.json),
        onInterrupt: 'cancel',
        ...(deps.follow ? { follow: deps.follow } : {}),
      });
    });

  const swarms = program
    .command('swarms')
    .description('list, inspect and steer swarms')
    .addHelpText(
      'after',
      `
Examples:
  $ cfn swarms list --status awaiting_decision
  $ cfn swarms decide <id> PROCEED
  $ cfn swarms show <id>`,
    );

  swarms
    .command('list')
    .description('list swarms, newest first')
    .addOption(new Option('--status <status>', 'only swarms in this status').choices(STATUSES))
    .addOption(new Option('--strategy <strategy>', 'only this strategy').choices(STRATEGIES))
    .option('--limit <n>', 'swarms per page (at most 200)', positiveInt)
    .option('--cursor <cursor>', 'the page after this cursor (printed by the previous page)')
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ cfn swarms list --status running
  $ cfn swarms list --strategy cfn-loop --limit 20 --json`,
    )
    .action(
      async (
        opts: ConnectionOptions & {
          status?: string;
          strategy?: string;
          limit?: number;
          cursor?: string;
          json?: boolean;
        },
      ) => {
        const q = new URLSearchParams();
        if (opts.status) q.set('status', opts.status);
        if (opts.strategy) q.set('strategy', opts.strategy);
        if (opts.limit) q.set('limit', String(opts.limit));
        if (opts.cursor) q.set('cursor', opts.cursor);
        const qs = q.toString();
        const page = await clientFor(opts, deps).call<SwarmPage>(
          'GET',
          `/api/swarms${qs ? `?${qs}` : ''}`,
        );
        if (opts.json) {
          io.out(JSON.stringify(page, null, 2) + '\n');
          return;
        }
        if (!page.items.length) io.out('No swarms. Start one with `cfn run "<objective>"`.\n');
        else io.out(formatTable(SWARM_LIST_HEADER, page.items.map(swarmRow)));
        if (page.nextCursor) {
          const filters = [
            opts.status ? `--status ${opts.status}` : '',
            opts.strategy ? `--strategy ${opts.strategy}` : '',
            opts.limit ? `--limit ${opts.limit}` : '',
          ].filter(Boolean);
          io.out(
            `\nMore: cfn swarms list ${[...filters, `--cursor ${shellArg(page.nextCursor)}`].join(' ')}\n`,
          );
        }
      },
    );

  swarms
    .command('show')
    .description("a swarm's status, iterations, tasks and usage")
    .argument('<id>', 'the swarm id (see `cfn swarms list`)')
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .addHelpText('after', '\nExample:\n  $ cfn swarms show 0b9c7a4e-1f7d-4c39-9a55-3f1f0e6b1d2a')
    .action(async (id: string, opts: ConnectionOptions & { json?: boolean }) => {
      const detail = await clientFor(opts, deps).call<SwarmDetailView>('GET', swarmPath(id));
      io.out(opts.json ? JSON.stringify(detail, null, 2) + '\n' : formatSwarmDetail(detail));
    });

  swarms
    .command('follow')
    .description('watch a swarm live until it ends (same view and exit status as `cfn run`)')
    .argument('<id>', 'the swarm id')
    .option('--after <seq>', 'resume after this event sequence number', nonNegativeInt)
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(new Option('--json', 'print each event as one JSON line (NDJSON)'))
    .addHelpText(
      'after',
      `
Ctrl-C stops following; the swarm keeps running (cancel it with \`cfn swarms cancel <id>\`).

Examples:
  $ cfn swarms follow 0b9c7a4e-1f7d-4c39-9a55-3f1f0e6b1d2a
  $ cfn swarms follow 0b9c7a4e-1f7d-4c39-9a55-3f1f0e6b1d2a --after 42 --json`,
    )
    .action(async (id: string, opts: ConnectionOptions & { after?: number; json?: boolean }) => {
      const client = clientFor(opts, deps);
      // Resuming mid-stream: seed the counters the skipped events would have built up.
      let seed: WatchOptions['seed'];
      if (opts.after) {
        const d = await client.call<SwarmDetailView>('GET', swarmPath(id));
        seed = {
          startedAt: Date.parse(d.createdAt),
          maxIterations: d.spec.maxIterations,
          iteration: d.iteration,
          tokens: d.tokens,
          costUsd: d.costUsd,
        };
      }
      await watchSwarm({
        client,
        io,
        swarmId: id,
        json: Boolean(opts.json),
        onInterrupt: 'detach',
        ...(opts.after !== undefined ? { after: opts.after } : {}),
        ...(seed ? { seed } : {}),
        ...(deps.follow ? { follow: deps.follow } : {}),
      });
    });

  swarms
    .command('cancel')
    .description('cancel a swarm; running tasks are stopped')
    .argument('<id>', 'the swarm id')
    .addOption(urlOption())
    .addOption(keyOption())
    .addHelpText('after', '\nExample:\n  $ cfn swarms cancel 0b9c7a4e-1f7d-4c39-9a55-3f1f0e6b1d2a')
    .action(async (id: string, opts: ConnectionOptions) => {
      const r = await clientFor(opts, deps).call<SwarmRecordView>('POST', swarmPath(id, '/cancel'));
      io.out(
        `Cancel requested for swarm ${r.id} (status ${r.status}). ` +
          `Watch it stop with: cfn swarms follow ${r.id}\n`,
      );
    });

  swarms
    .command('decide')
    .description('answer a swarm awaiting a human decision (--approval human)')
    .argument('<id>', 'the swarm id')
    .addArgument(
      new Argument(
        '<decision>',
        'PROCEED (accept), ITERATE (another round), ABORT (stop)',
      ).argParser(parseDecision),
    )
    .option('--feedback <text>', 'what the next iteration should address (with ITERATE)')
    .addOption(urlOption())
    .addOption(keyOption())
    .addHelpText(
      'after',
      `
Examples:
  $ cfn swarms decide 0b9c7a4e-1f7d-4c39-9a55-3f1f0e6b1d2a PROCEED
  $ cfn swarms decide 0b9c7a4e-1f7d-4c39-9a55-3f1f0e6b1d2a ITERATE --feedback "cover the error paths"`,
    )
    .action(
      async (id: string, decision: Decision, opts: ConnectionOptions & { feedback?: string }) => {
        const r = await clientFor(opts, deps).call<SwarmRecordView>(
          'POST',
          swarmPath(id, '/decision'),
          { decision, feedback: opts.feedback ?? '' },
        );
        io.out(
          `Decision ${decision} recorded for swarm ${r.id} (status ${r.status}). ` +
            `Follow it with: cfn swarms follow ${r.id}\n`,
        );
      },
    );
}
