// What stops the service is logged at FATAL in the log pipeline (stdout JSON and LOG_DIR/app.log)
// as well as on stderr: each kind of start-up failure of the built `cfn`, with the exit code
// unchanged, and an uncaught exception or unhandled rejection once it runs (FATAL, then exit 1).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type CliResult } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

let cwd: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-fatal-'));
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(cwd, { recursive: true, force: true });
});

type Line = Record<string, unknown>;

const jsonLines = (text: string): Line[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

/** A fresh directory under the test's cwd, for one case's data and logs. */
function dirFor(name: string): { dataDir: string; logDir: string } {
  const base = path.join(cwd, name);
  return { dataDir: path.join(base, 'data'), logDir: path.join(base, 'logs') };
}

/** The FATAL line on stdout and the same in LOG_DIR/app.log, and one readable line on stderr. */
function expectFatal(r: CliResult, logDir: string | undefined, expected: Line): Line {
  expect(r.code, r.stderr).toBe(1);
  const stderr = r.stderr.trim().split('\n');
  expect(stderr).toHaveLength(1);
  expect(stderr[0]).toMatch(/^cfn: /);
  const fatal = jsonLines(r.stdout).filter((l) => l.level === 'fatal');
  expect(fatal, r.stdout).toHaveLength(1);
  expect(fatal[0]).toMatchObject({ msg: 'start-up failed', service: 'claude-flow-novice' });
  expect(fatal[0]).toMatchObject(expected);
  if (logDir) {
    const inFile = jsonLines(fs.readFileSync(path.join(logDir, 'app.log'), 'utf8')).filter(
      (l) => l.level === 'fatal',
    );
    expect(inFile).toEqual(fatal);
  }
  return fatal[0]!;
}

const start = (env: Record<string, string>, args = ['start']) =>
  runCli(args, { cwd, env: { HOST: '127.0.0.1', PORT: '0', ...env } });

describe('start-up failures', () => {
  it('bad configuration: FATAL naming the variable in LOG_DIR and on stdout, never the value', async () => {
    const { dataDir, logDir } = dirFor('config');
    const value = 'not-a-port-6f1e';
    const r = await start({ CFN_DATA_DIR: dataDir, LOG_DIR: logDir, PORT: value });
    const fatal = expectFatal(r, logDir, { code: 'CONFIG_INVALID', variable: 'PORT', role: 'all' });
    expect(r.stderr).toMatch(/PORT: expected an integer/);
    expect(String((fatal.err as Line).message)).toMatch(/PORT: expected an integer/);
    expect(
      r.stdout + r.stderr + fs.readFileSync(path.join(logDir, 'app.log'), 'utf8'),
    ).not.toContain(value);
  });

  it('bad LOG_LEVEL: FATAL still reaches LOG_DIR (at the default level)', async () => {
    const { dataDir, logDir } = dirFor('level');
    const r = await start({ CFN_DATA_DIR: dataDir, LOG_DIR: logDir, LOG_LEVEL: 'loud' });
    expectFatal(r, logDir, { variable: 'LOG_LEVEL' });
  });

  it('an unusable LOG_DIR: FATAL on stdout only, naming why the directory was skipped', async () => {
    const { dataDir } = dirFor('logdir');
    const file = path.join(cwd, 'a-file');
    fs.writeFileSync(file, 'not a directory');
    const r = await start({ CFN_DATA_DIR: dataDir, LOG_DIR: path.join(file, 'logs') });
    const fatal = expectFatal(r, undefined, { role: 'all' });
    expect(fatal.logDirError).toMatch(/ENOTDIR/);
  });

  it('the database unreachable at start', async () => {
    const { logDir } = dirFor('db-down');
    const port = await freePort(); // nothing listens there
    const r = await start({
      LOG_DIR: logDir,
      CFN_DATA_DIR: dirFor('db-down').dataDir,
      DATABASE_URL: `postgres://cfn:secret-pw@127.0.0.1:${port}/claudeflow`,
      DATABASE_CONNECT_TIMEOUT_MS: '500',
    });
    expectFatal(r, logDir, { code: 'ECONNREFUSED' });
    expect(r.stdout + fs.readFileSync(path.join(logDir, 'app.log'), 'utf8')).not.toContain(
      'secret-pw',
    );
  });

  it('a failed migration', async () => {
    const db: TestDatabase = await createTestDatabase();
    cleanups.push(() => db.drop());
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('create table api_keys (unrelated int)'); // the first migration's table
    await client.end();
    const { dataDir, logDir } = dirFor('migration');
    const r = await start({ CFN_DATA_DIR: dataDir, LOG_DIR: logDir, DATABASE_URL: db.url });
    const fatal = expectFatal(r, logDir, { role: 'all' });
    expect(JSON.stringify(fatal.err)).toMatch(/api_keys/);
  });

  it('the port in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const { port } = blocker.address() as net.AddressInfo;
    const { dataDir, logDir } = dirFor('port');
    const r = await start({ CFN_DATA_DIR: dataDir, LOG_DIR: logDir, PORT: String(port) });
    expectFatal(r, logDir, { code: 'EADDRINUSE' });
  });

  it('the data directory locked by a live process', async () => {
    const { dataDir, logDir } = dirFor('locked');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'pglite.lock'), String(process.pid)); // this test, alive
    const r = await start({ CFN_DATA_DIR: dataDir, LOG_DIR: logDir });
    expectFatal(r, logDir, { code: 'DATA_DIR_LOCKED' });
    expect(r.stderr).toContain(`in use by process ${process.pid}`);
  });

  it('a replica role without what it needs (cfn worker without REDIS_URL)', async () => {
    const { dataDir, logDir } = dirFor('worker');
    const r = await start({ CFN_DATA_DIR: dataDir, LOG_DIR: logDir }, ['worker']);
    expectFatal(r, logDir, { variable: 'REDIS_URL', role: 'worker' });
  });
});

describe('a crash of the running service', () => {
  const preload = new URL('../support/crash-on-signal.mjs', import.meta.url).href;

  it.each([
    ['an uncaught exception', 'exception', 'uncaughtException', 'injected crash'],
    ['an unhandled rejection', 'rejection', 'unhandledRejection', 'injected rejection'],
  ])(
    '%s: FATAL line in stdout and LOG_DIR, then exit 1',
    async (_label, kind, expectedKind, message) => {
      const { dataDir, logDir } = dirFor(`crash-${kind}`);
      const r = spawnCli(['start'], {
        cwd,
        env: {
          HOST: '127.0.0.1',
          PORT: '0',
          CFN_DATA_DIR: dataDir,
          LOG_DIR: logDir,
          NODE_OPTIONS: `--import=${preload}`,
          CFN_TEST_CRASH: kind,
        },
      });
      cleanups.push(() => {
        if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      });
      await r.waitForLog((l) => l.msg === 'listening');
      r.child.kill('SIGUSR2');
      expect(await r.exited).toEqual({ code: 1, signal: null });
      const fatal = jsonLines(r.stdout()).filter((l) => l.level === 'fatal');
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatchObject({ kind: expectedKind });
      expect((fatal[0]!.err as Line).message).toBe(message);
      const inFile = jsonLines(fs.readFileSync(path.join(logDir, 'app.log'), 'utf8'));
      // The lines written before the crash are there too, the FATAL one last.
      expect(inFile.some((l) => l.msg === 'listening')).toBe(true);
      expect(inFile.at(-1)).toEqual(fatal[0]);
    },
  );
});
