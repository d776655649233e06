// `cfn security blocklist list|add|remove|nginx`: the service's access blocklist through its API
// (admin key): the blocks in force (automatic after failed authentications, and manual ones with
// their reason), adding and removing entries (audited by the service), and the list as an nginx
// deny file to include in the proxy in front of it.
import net from 'node:net';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  clientFor,
  jsonOption,
  keyOption,
  resolveIo,
  urlOption,
  type CliIoDeps,
  type ConnectionOptions,
} from './command-kit.js';
import { formatTable } from './table.js';

export interface BlockView {
  address: string;
  source: 'automatic' | 'manual';
  reason: string | null;
  expiresAt: string;
  createdAt: string | null;
  createdBy: string | null;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `90s`, `30m`, `24h`, `7d`, `2w`, or a number of seconds: the duration in seconds. */
export function durationSeconds(value: string): number {
  const m = /^(\d+)([smhdw]?)$/.exec(value.trim());
  const n = m ? Number(m[1]) * UNITS[m[2] || 's']! : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a duration such as 90s, 30m, 24h, 7d or 2w');
  return n;
}

/** Text for an nginx comment: one line, no control characters. */
const commentText = (s: string) => s.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' ').trim();

/**
 * The blocks as an nginx configuration fragment (`deny <address>;` lines under a comment header)
 * for an `include` in the server block. Only valid IP addresses become directives.
 */
export function formatNginxDenyList(
  items: readonly BlockView[],
  generatedAt: Date,
  url: string,
): string {
  const addresses = new Map<string, BlockView[]>();
  for (const b of items) {
    if (net.isIP(b.address) === 0) continue;
    addresses.set(b.address, [...(addresses.get(b.address) ?? []), b]);
  }
  const lines = [
    '# Access blocklist of claude-flow-novice, made by `cfn security blocklist nginx`',
    `# from ${commentText(url)} at ${generatedAt.toISOString()}: ${addresses.size} address(es).`,
    '# Include it in the server block (include /etc/nginx/blocklist.d/*.conf;) and reload nginx',
    '# (nginx -s reload). The service lifts blocks when they expire: make this file again to follow.',
  ];
  for (const [address, blocks] of addresses) {
    lines.push('');
    for (const b of blocks)
      lines.push(
        `# ${b.source}, until ${b.expiresAt}${b.reason ? `: ${commentText(b.reason).slice(0, 200)}` : ''}`,
      );
    lines.push(`deny ${address};`);
  }
  return lines.join('\n') + '\n';
}

export function registerSecurityCommands(program: Command, deps: CliIoDeps): void {
  const io = resolveIo(deps);
  const security = program
    .command('security')
    .description('access control of the running service (admin)');
  const blocklist = security
    .command('blocklist')
    .description(
      'client addresses refused by the API: blocked automatically after repeated failed authentications, or by hand',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ cfn security blocklist list\n' +
        '  $ cfn security blocklist add 203.0.113.7 --reason "key guessing" --for 7d\n' +
        '  $ cfn security blocklist remove 203.0.113.7\n' +
        '  $ cfn security blocklist nginx > /etc/nginx/blocklist.d/cfn.conf && nginx -s reload',
    );

  const list = async (opts: ConnectionOptions) =>
    (await clientFor(opts, deps).call<{ items: BlockView[] }>('GET', '/api/admin/blocklist')).items;

  blocklist
    .command('list')
    .description('the blocks in force, automatic and manual, with their expiry')
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .option('--nginx', 'print an nginx deny list instead (same as `cfn security blocklist nginx`)')
    .action(async (opts: ConnectionOptions & { json?: boolean; nginx?: boolean }) => {
      const items = await list(opts);
      if (opts.nginx) {
        io.out(formatNginxDenyList(items, new Date(), opts.url));
        return;
      }
      if (opts.json) {
        io.out(JSON.stringify(items, null, 2) + '\n');
        return;
      }
      if (!items.length) {
        io.out('No address is blocked.\n');
        return;
      }
      io.out(
        formatTable(
          ['ADDRESS', 'SOURCE', 'EXPIRES', 'BY', 'REASON'],
          items.map((b) => [
            b.address,
            b.source,
            b.expiresAt,
            b.createdBy ?? '-',
            b.reason === null ? '(failed authentications)' : commentText(b.reason),
          ]),
        ),
      );
    });

  blocklist
    .command('add')
    .description('block an address on the API for a while, with a reason (audited)')
    .argument('<address>', 'an IPv4 or IPv6 address')
    .requiredOption('--reason <text>', 'why (kept with the entry and in the audit log)')
    .addOption(
      new Option('--for <duration>', 'how long: 90s, 30m, 24h, 7d, 2w')
        .argParser(durationSeconds)
        .default(86_400, '24h'),
    )
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(
      async (
        address: string,
        opts: ConnectionOptions & { reason: string; for: number; json?: boolean },
      ) => {
        const b = await clientFor(opts, deps).call<BlockView>('POST', '/api/admin/blocklist', {
          address,
          reason: opts.reason,
          durationSeconds: opts.for,
        });
        if (opts.json) io.out(JSON.stringify(b, null, 2) + '\n');
        else io.out(`Blocked ${b.address} until ${b.expiresAt}.\n`);
      },
    );

  blocklist
    .command('remove')
    .description('lift the block of an address: its manual entry and its automatic block (audited)')
    .argument('<address>', 'the address (see `cfn security blocklist list`)')
    .addOption(urlOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(async (address: string, opts: ConnectionOptions & { json?: boolean }) => {
      const r = await clientFor(opts, deps).call<{
        address: string;
        manual: boolean;
        automatic: boolean;
      }>('DELETE', `/api/admin/blocklist/${encodeURIComponent(address)}`);
      if (opts.json) {
        io.out(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      const what = [r.manual ? 'manual entry' : '', r.automatic ? 'automatic block' : '']
        .filter(Boolean)
        .join(' and ');
      io.out(`Unblocked ${r.address} (${what} removed).\n`);
    });

  blocklist
    .command('nginx')
    .description('print the blocks in force as an nginx deny list (deny <address>; lines)')
    .addOption(urlOption())
    .addOption(keyOption())
    .action(async (opts: ConnectionOptions) => {
      io.out(formatNginxDenyList(await list(opts), new Date(), opts.url));
    });
}
