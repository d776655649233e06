// `cfn agents list|show`: the service's agent catalogue, read-only.
import { Command, Option } from 'commander';
import { AGENT_ROLES } from '../domain/agent-definition.js';
import type { AgentSummaryView, AgentView } from './api-types.js';
import {
  clientFor,
  jsonOption,
  keyOption,
  resolveIo,
  urlOption,
  type CliIoDeps,
  type ConnectionOptions,
} from './command-kit.js';
import { truncate } from './progress-view.js';
import { formatTable } from './table.js';

export function formatAgent(a: AgentView): string {
  const fields: Array<[string, string]> = [
    ['name', a.name],
    ['description', a.description],
    ['role', a.role],
    ['tools', a.tools.length ? a.tools.join(', ') : '-'],
    ['provider', a.provider ?? '(default)'],
    ['model', a.model ?? '(provider default)'],
    ['temperature', a.temperature === null ? '-' : String(a.temperature)],
    ['maxTokens', a.maxTokens === null ? '-' : String(a.maxTokens)],
    ['timeoutMs', a.timeoutMs === null ? '-' : String(a.timeoutMs)],
    ['source', a.source],
  ];
  return (
    fields.map(([k, v]) => `${`${k}:`.padEnd(13)}${v}`).join('\n') +
    `\n\n--- system prompt ---\n${a.systemPrompt.trimEnd()}\n`
  );
}

export function registerAgentCommands(program: Command, deps: CliIoDeps): void {
  const io = resolveIo(deps);
  const agents = program
    .command('agents')
    .description('the agents swarms can use')
    .addHelpText(
      'after',
      '\nExamples:\n  $ cfn agents list --role validator\n  $ cfn agents show coder',
    );

  agents
    .command('list')
    .description('list agents, by name')
    .addOption(new Option('--role <role>', 'only agents with this role').choices(AGENT_ROLES))
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ cfn agents list\n  $ cfn agents list --role validator --json',
    )
    .action(async (opts: ConnectionOptions & { role?: string; json?: boolean }) => {
      const qs = opts.role ? `?role=${encodeURIComponent(opts.role)}` : '';
      const { items } = await clientFor(opts, deps).call<{ items: AgentSummaryView[] }>(
        'GET',
        `/api/agents${qs}`,
      );
      if (opts.json) {
        io.out(JSON.stringify(items, null, 2) + '\n');
        return;
      }
      if (!items.length) {
        io.out(`No agents${opts.role ? ` with role ${opts.role}` : ''}.\n`);
        return;
      }
      io.out(
        formatTable(
          ['NAME', 'ROLE', 'PROVIDER', 'MODEL', 'SOURCE', 'DESCRIPTION'],
          items.map((a) => [
            a.name,
            a.role,
            a.provider ?? '(default)',
            a.model ?? '-',
            a.source.length > 40 ? `…${a.source.slice(-39)}` : a.source,
            truncate(a.description, 60),
          ]),
        ),
      );
    });

  agents
    .command('show')
    .description("an agent's definition: frontmatter fields, then its system prompt")
    .argument('<name>', 'the agent name (see `cfn agents list`)')
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .addHelpText('after', '\nExample:\n  $ cfn agents show reviewer')
    .action(async (name: string, opts: ConnectionOptions & { json?: boolean }) => {
      const a = await clientFor(opts, deps).call<AgentView>(
        'GET',
        `/api/agents/${encodeURIComponent(name)}`,
      );
      io.out(opts.json ? JSON.stringify(a, null, 2) + '\n' : formatAgent(a));
    });
}
