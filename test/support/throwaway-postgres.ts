// A PostgreSQL cluster of the test's own (initdb in a temporary directory, a free port, trust
// auth), which the test may stop and start again; the machine's shared server is never touched.
// Runs the server binaries as the `postgres` user when the tests run as root (initdb refuses root).
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

export interface ThrowawayPostgres {
  url: string;
  port: number;
  /** The temporary directory: data directory, socket, log. */
  dir: string;
  dataDir: string;
  /** Where the server's Unix socket is. */
  socketDir: string;
  stop(): void;
  start(): void;
  /**
   * As start() and stop(), without blocking this process: an in-process server the cluster
   * talks to meanwhile (s3rver behind an archive or restore command) keeps answering.
   */
  startAsync(): Promise<void>;
  stopAsync(): Promise<void>;
  destroy(): void;
}

export interface ThrowawayPostgresOptions {
  /**
   * Server settings given on the command line (`-c name=value`), so they never end up in the
   * data directory (nor in a backup of it): e.g. archive_mode, archive_command, wal_level.
   */
  settings?: Record<string, string>;
  /** Added to the server's environment (an archive_command inherits it). */
  env?: Record<string, string>;
  /** Leave the data directory empty and the server stopped: the test fills it, then start(). */
  empty?: boolean;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  throw new Error(
    'PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql',
  );
}

const asRoot = () => process.getuid?.() === 0;

const asOwner = (cmd: string, args: string[]): [string, string[]] =>
  asRoot() ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];

/**
 * Runs `cmd` as the owner of the throwaway clusters (`postgres` when the tests run as root, else
 * the current user) and returns its stdout; a failure throws with the command's stderr.
 */
export function runAsClusterOwner(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): string {
  const [file, argv] = asOwner(cmd, args);
  try {
    return execFileSync(file, argv, { stdio: 'pipe', env: { ...process.env, ...env } }).toString();
  } catch (err) {
    // The message holds the command and its stderr; stdout may say more (pgbackrest's log).
    const e = err as { stdout?: Buffer; message: string };
    throw new Error(`${e.message}\n${e.stdout?.toString() ?? ''}`);
  }
}

/** runAsClusterOwner without blocking the event loop. */
export function runAsClusterOwnerAsync(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const [file, argv] = asOwner(cmd, args);
  return new Promise((resolve, reject) =>
    execFile(file, argv, { env: { ...process.env, ...env } }, (err, stdout) =>
      err ? reject(new Error(`${err.message}\n${stdout}`)) : resolve(stdout),
    ),
  );
}

/** `name=value` for pg_ctl -o, which hands its options to a shell. */
const setting = (name: string, value: string) => `-c ${name}='${value.replace(/'/g, `'\\''`)}'`;

export async function startThrowawayPostgres(
  options: ThrowawayPostgresOptions = {},
): Promise<ThrowawayPostgres> {
  const bin = binDir();
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-pg-'));
  const data = path.join(dir, 'data');
  if (asRoot()) execFileSync('chown', ['postgres:postgres', dir]);
  const run = (cmd: string, args: string[]) => runAsClusterOwner(cmd, args, options.env);
  const runAsync = (cmd: string, args: string[]) => runAsClusterOwnerAsync(cmd, args, options.env);
  if (options.empty) run('mkdir', ['-m', '700', data]);
  else run(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const extra = Object.entries(options.settings ?? {}).map(([k, v]) => setting(k, v));
  const pgCtl = path.join(bin, 'pg_ctl');
  const startArgs = [
    '-D',
    data,
    '-l',
    path.join(dir, 'log'),
    '-w',
    '-t',
    '60',
    '-o',
    [`-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, ...extra].join(' '),
    'start',
  ];
  const stopArgs = ['-D', data, '-m', 'fast', '-w', 'stop'];
  const start = () => void run(pgCtl, startArgs);
  const stop = () => void run(pgCtl, stopArgs);
  if (!options.empty) start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    dataDir: data,
    socketDir: dir,
    start,
    stop,
    startAsync: async () => void (await runAsync(pgCtl, startArgs)),
    stopAsync: async () => void (await runAsync(pgCtl, stopArgs)),
    destroy() {
      try {
        stop();
      } catch {
        // already stopped (or never started)
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
