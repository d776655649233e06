// `--engine pgbackrest` of `cfn backup create|list|verify` and `cfn restore`: check the options,
// call the pgBackRest service the composition root opens, print a sentence, a table or JSON.
import type { BackupProgress } from '../ops/backup-service.js';
import type { PhysicalBackupService } from '../ops/physical-backup-service.js';
import { PHYSICAL_BACKUP_KINDS, type PhysicalBackupKind } from '../ports/physical-backup.js';
import { CliError } from './api-client.js';
import { formatTable } from './table.js';

export interface PhysicalBackupSession {
  service: PhysicalBackupService;
  close(): Promise<void>;
}

/** Opens pgBackRest; `withCatalog` opens the database too (a restore runs while it is down). */
export type OpenPhysicalBackups = (options: {
  withCatalog: boolean;
  onProgress?: (p: BackupProgress) => void;
}) => Promise<PhysicalBackupSession>;

export interface PgBackRestCommandContext {
  open: OpenPhysicalBackups;
  out(text: string): void;
  progressLine(): { onProgress: ((p: BackupProgress) => void) | undefined; clear(): void };
  formatBytes(n: number): string;
}

export function parseKind(type: string | undefined): PhysicalBackupKind {
  const kind = type ?? 'incr';
  if (!(PHYSICAL_BACKUP_KINDS as readonly string[]).includes(kind)) {
    throw new CliError(`--type for --engine pgbackrest is full, diff or incr, not "${kind}".`);
  }
  return kind as PhysicalBackupKind;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function createPgBackRestCommands(ctx: PgBackRestCommandContext) {
  const { out, formatBytes } = ctx;

  async function withService<T>(
    withCatalog: boolean,
    fn: (s: PhysicalBackupService) => Promise<T>,
  ): Promise<T> {
    const p = ctx.progressLine();
    const session = await ctx.open({
      withCatalog,
      ...(p.onProgress ? { onProgress: p.onProgress } : {}),
    });
    try {
      return await fn(session.service);
    } finally {
      p.clear();
      await session.close();
    }
  }

  return {
    async create(opts: { type?: string; json?: boolean }) {
      const kind = parseKind(opts.type);
      const b = await withService(true, (s) => s.create(kind));
      if (opts.json) return out(JSON.stringify(b, null, 2) + '\n');
      out(
        `Created pgBackRest ${b.type.slice('pgbackrest-'.length)} backup ${b.id} of stanza ${b.stanza}` +
          `${b.prior ? ` on top of ${b.prior}` : ''} (${formatBytes(b.sizeBytes)} in the repository, ` +
          `database ${formatBytes(b.databaseSizeBytes)}` +
          `${b.encryption ? `, encrypted ${b.encryption.algorithm}` : ', not encrypted'}) in ${seconds(b.durationMs)}.\n` +
          'Check the repository with `cfn backup verify --engine pgbackrest`.\n',
      );
    },

    async list(opts: { json?: boolean }) {
      const l = await withService(true, (s) => s.list());
      if (opts.json) return out(JSON.stringify(l, null, 2) + '\n');
      if (!l.backups.length) {
        return out(
          `No pgBackRest backups in stanza ${l.stanza} yet. Create one with ` +
            '`cfn backup create --engine pgbackrest --type full`.\n',
        );
      }
      out(
        formatTable(
          ['ID', 'TYPE', 'CREATED', 'SIZE', 'DATABASE', 'ENCRYPTED', 'VERIFIED'],
          l.backups.map((b) => [
            b.id,
            b.type,
            b.createdAt,
            formatBytes(b.sizeBytes),
            formatBytes(b.databaseSizeBytes),
            b.encryption ? b.encryption.algorithm : 'no',
            b.verifiedAt ?? '-',
          ]),
        ),
      );
      out(
        `\nWAL archive ${l.wal ? `${l.wal.min} to ${l.wal.max}` : 'empty'}: point-in-time ` +
          `recovery to any time from ${l.recoverableFrom} to the newest archived WAL.\n`,
      );
    },

    async verify(ref: string | undefined, opts: { json?: boolean }) {
      if (ref !== undefined) {
        throw new CliError(
          'pgBackRest verifies the whole repository: run `cfn backup verify --engine pgbackrest` without an id.',
        );
      }
      const r = await withService(true, (s) => s.verify());
      if (opts.json) return out(JSON.stringify(r, null, 2) + '\n');
      const files = r.backups.reduce((n, b) => n + b.checked, 0);
      const wal = r.archives.reduce((n, a) => n + a.checked, 0);
      out(
        `The pgBackRest repository of stanza ${r.stanza} is good: ${r.backups.length} backups ` +
          `(${files} files) and ${wal} WAL segments read back with matching checksums (${seconds(r.durationMs)}).\n`,
      );
    },

    async restore(ref: string | undefined, opts: { to?: string; pgData?: string; json?: boolean }) {
      const label = ref === undefined || ref === 'latest' ? undefined : ref;
      const r = await withService(false, (s) =>
        s.restore({ to: opts.to, label, dataDir: opts.pgData }),
      );
      if (opts.json) return out(JSON.stringify(r, null, 2) + '\n');
      out(
        `Restored backup set ${r.label ?? '?'} of stanza ${r.stanza}${r.dataDir ? ` into ${r.dataDir}` : ''}. ` +
          `Start PostgreSQL on it: it replays the archived WAL ${r.target ? `to ${r.target} and promotes` : 'to its end'}. ` +
          `Then take a full backup: cfn backup create --engine pgbackrest --type full\n`,
      );
    },
  };
}
