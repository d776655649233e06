// The PhysicalBackups port on the pgbackrest executable: argv only (never a shell), output read
// line by line while it runs. pgBackRest reads its secrets (PGBACKREST_REPO1_CIPHER_PASS, the S3
// keys) from the environment, so the child inherits this process's environment unchanged.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { AppError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';
import type { PhysicalBackups, PhysicalProgress } from '../../ports/physical-backup.js';
import { PgBackRestError } from './pgbackrest-error.js';
import { parseInfo, parseProgressLine, parseVerify, restoredLabel } from './pgbackrest-output.js';

export interface PgBackRestCliOptions {
  /** argv that runs pgbackrest: `['pgbackrest']`, or `['runuser', '-u', 'postgres', '--', 'pgbackrest']`. */
  command: readonly string[];
  stanza: string;
  /** Passed as --config; unset: pgBackRest's default file. */
  configFile?: string | undefined;
  logger?: Logger | undefined;
}

interface Run {
  /** stdout as printed (JSON or text output), and as lines (the console log). */
  stdout: string;
  lines: string[];
}

const TAIL = 20;

export function createPgBackRestCli(options: PgBackRestCliOptions): PhysicalBackups {
  const [cmd, ...prefix] = options.command;
  if (!cmd) throw new AppError('VALIDATION_FAILED', 'The pgbackrest command is empty');
  const base = [
    `--stanza=${options.stanza}`,
    ...(options.configFile ? [`--config=${options.configFile}`] : []),
  ];

  function run(name: string, args: string[], onLine?: (line: string) => void): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd!, [...prefix, ...base, ...args, name], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines: string[] = [];
      const chunks: Buffer[] = [];
      const stderr: string[] = [];
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        options.logger?.debug({ pgbackrest: name, line }, 'pgbackrest output');
        onLine?.(line);
      });
      readline.createInterface({ input: child.stderr }).on('line', (line) => {
        stderr.push(line);
        if (stderr.length > TAIL) stderr.shift();
      });
      child.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ENOENT'
            ? new AppError(
                'SERVICE_UNAVAILABLE',
                `${cmd} is not installed: install pgBackRest (Debian: apt-get install pgbackrest) ` +
                  'or point CFN_PGBACKREST_COMMAND at it',
              )
            : err,
        ),
      );
      child.on('close', (code) => {
        if (code === 0) return resolve({ stdout: Buffer.concat(chunks).toString('utf8'), lines });
        // pgBackRest prints its errors on stderr; the console log's last lines say where it was.
        const detail = stderr.length
          ? stderr.join('\n')
          : lines
              .slice(-TAIL)
              .filter((l) => / (ERROR|WARN): /.test(l))
              .join('\n');
        reject(new PgBackRestError(name, code, detail.trim() || 'no error message'));
      });
    });
  }

  const progress = (onProgress?: (p: PhysicalProgress) => void) =>
    onProgress
      ? (line: string) => {
          const p = parseProgressLine(line);
          if (p) onProgress(p);
        }
      : undefined;

  /** Output of a command that prints a document: a parse failure is reported as its failure. */
  async function document<T>(name: string, args: string[], parse: (text: string) => T) {
    const { stdout } = await run(name, [...args, '--log-level-console=off']);
    try {
      return parse(stdout);
    } catch (err) {
      throw new PgBackRestError(name, 0, (err as Error).message);
    }
  }

  return {
    engine: 'pgbackrest',
    name: options.stanza,
    async backup(kind, onProgress) {
      // detail: one line per file with the percentage done, for the progress line.
      await run('backup', ['--log-level-console=detail', `--type=${kind}`], progress(onProgress));
    },
    repository() {
      return document('info', ['--output=json'], (t) => parseInfo(t, options.stanza));
    },
    verify() {
      return document('verify', ['--output=text', '--verbose'], parseVerify);
    },
    async restore(o, onProgress) {
      const { lines } = await run(
        'restore',
        [
          '--log-level-console=detail',
          ...(o.label ? [`--set=${o.label}`] : []),
          ...(o.targetTime
            ? ['--type=time', `--target=${o.targetTime}`, '--target-action=promote']
            : []),
          ...(o.dataDir ? [`--pg1-path=${o.dataDir}`] : []),
        ],
        progress(onProgress),
      );
      return { label: restoredLabel(lines) };
    },
  };
}
