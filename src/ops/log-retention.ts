// Log retention from the operations guide: application log files older than 30 days and audit-log
// rows older than 90 days are deleted (defaults), and the pruning itself is audited. The CLI
// (`cfn logs prune`) and, later, the scheduler call pruneLogs.
import fs from 'node:fs';
import path from 'node:path';
import { AppError, ValidationError } from '../domain/errors.js';
import type { AuditedWrites } from '../ports/audited-writes.js';
import type { AuditLogStore } from '../ports/audit-log-store.js';

export const DEFAULT_APP_LOG_DAYS = 30;
export const DEFAULT_AUDIT_LOG_DAYS = 90;

/** app.log and what logrotate makes of it: app.log.1, app.log.2.gz, app-2026-11-01.log.gz … */
const LOG_FILE = /\.log(\.\d+)?(\.gz)?$/;
const DAY_MS = 86_400_000;

export interface LogPruneOptions {
  /** Directory of the application's log files; undefined: prune audit rows only. */
  logDir: string | undefined;
  appDays: number;
  auditDays: number;
  dryRun: boolean;
  now?: Date;
}

export interface PrunedFile {
  path: string;
  modifiedAt: Date;
  bytes: number;
}

export interface LogPruneResult {
  dryRun: boolean;
  logDir: string | null;
  appCutoff: Date;
  auditCutoff: Date;
  /** Files removed (or, in a dry run, that would be). */
  files: PrunedFile[];
  /** Audit rows removed (or, in a dry run, that would be). */
  auditRows: number;
}

function checkDays(name: string, days: number): void {
  if (!Number.isInteger(days) || days < 1)
    throw new ValidationError(`${name} must be a whole number of days, at least 1 (got ${days})`);
}

async function oldLogFiles(dir: string, cutoff: Date): Promise<PrunedFile[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AppError(
        'NOT_FOUND',
        `log directory ${dir} does not exist: pass --dir <dir> (or set LOG_DIR) to the directory the service writes app.log to`,
      );
    }
    throw err;
  }
  const found: PrunedFile[] = [];
  for (const e of entries) {
    if (!e.isFile() || !LOG_FILE.test(e.name)) continue;
    const file = path.join(dir, e.name);
    const st = await fs.promises.stat(file);
    if (st.mtime < cutoff) found.push({ path: file, modifiedAt: st.mtime, bytes: st.size });
  }
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

export async function pruneLogs(
  deps: { audit: AuditLogStore; writes: AuditedWrites },
  options: LogPruneOptions,
): Promise<LogPruneResult> {
  checkDays('--app-days', options.appDays);
  checkDays('--audit-days', options.auditDays);
  const now = options.now ?? new Date();
  const appCutoff = new Date(now.getTime() - options.appDays * DAY_MS);
  const auditCutoff = new Date(now.getTime() - options.auditDays * DAY_MS);

  const files = options.logDir ? await oldLogFiles(options.logDir, appCutoff) : [];
  let auditRows: number;
  if (options.dryRun) {
    auditRows = await deps.audit.countBefore(auditCutoff);
  } else {
    // The rows go and the pruning is recorded in one transaction; the files go once it is
    // recorded, so a failed record leaves everything in place.
    auditRows = await deps.writes.run(async ({ audit }) => {
      const deleted = await audit.deleteBefore(auditCutoff);
      if (deleted > 0 || files.length > 0) {
        await audit.append({
          action: 'audit.prune',
          actorKeyId: null,
          actorName: 'cfn logs prune',
          target: null,
          details: {
            auditRows: deleted,
            auditBefore: auditCutoff.toISOString(),
            files: files.map((f) => path.basename(f.path)),
            filesBefore: appCutoff.toISOString(),
          },
          requestId: null,
          ip: null,
        });
      }
      return deleted;
    });
    for (const f of files) await fs.promises.rm(f.path, { force: true });
  }
  return {
    dryRun: options.dryRun,
    logDir: options.logDir ?? null,
    appCutoff,
    auditCutoff,
    files,
    auditRows,
  };
}
