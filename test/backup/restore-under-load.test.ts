// A restore while swarms run and submissions keep arriving, in the distributed profile as real
// processes: one `cfn serve` and two `cfn worker` on PostgreSQL and Redis, the loopback fake LLM
// answering after 150-900 ms, a swarm submitted every 250 ms throughout. A backup is taken, more
// happens, then `cfn restore --yes --keep-maintenance` replaces the database while all of that
// goes on. Before anything resumes, the restored database is compared with the backup table by
// table (the backup loaded into a scratch database by the guide's own `gunzip | psql`): exactly
// equal. Then `cfn maintenance off`, and over the whole run: every 202 is in the backup or was
// reported discarded, every submission while the replicas had stopped got 503, no row of a
// discarded swarm exists, and the backup's swarms go on to finish.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreReport } from '../../src/ops/restore-service.js';
import { runCli, spawnCli, type RunningCli } from '../support/cli.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import {
  connectTestRedis,
  createTestDatabase,
  type TestDatabase,
  type TestRedis,
} from '../support/services.js';
import {
  answerSlowly,
  backupFacts,
  checkRun,
  expectSameRows,
  loadEnv,
  rowSets,
  startSubmissions,
  swarmIdsByTable,
  TERMINAL,
  waitFor,
  type RunSql,
} from './load-harness.js';

const KEY = 'cfn_restore_under_load_admin_key_0123456789';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-restore-load-'));
const children: RunningCli[] = [];
let llm: FakeLlm;
let db: TestDatabase;
let scratch: TestDatabase;
let redis: TestRedis;
let env: Record<string, string>;
let api: string;
let client: pg.Client;
const run: RunSql = async (text) =>
  (await client.query(text)).rows as Array<Record<string, unknown>>;

async function start(role: 'serve' | 'worker') {
  const child = spawnCli([role], { cwd: dir, env });
  children.push(child);
  const listening = await child.waitForLog((l) => l.msg === 'listening', 60_000);
  return String(listening.url);
}

beforeAll(async () => {
  llm = await startFakeLlm();
  answerSlowly(llm);
  db = await createTestDatabase();
  scratch = await createTestDatabase();
  redis = await connectTestRedis();
  env = {
    ...loadEnv(dir, llm, KEY),
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix.replace(/:$/, ''),
    BACKUP_TARGET: path.join(dir, 'backups'),
    CFN_QUEUE_LOCK_MS: '5000',
    CFN_RECOVERY_INTERVAL_MS: '2000',
    CFN_RESTORE_ACK_TIMEOUT_MS: '30000',
  };
  api = await start('serve');
  await Promise.all([start('worker'), start('worker')]);
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
}, 120_000);

afterAll(async () => {
  for (const c of children)
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await client?.end();
  await llm?.close();
  await redis?.cleanup();
  await db?.drop();
  await scratch?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const count = async (where: string) =>
  Number((await run(`select count(*)::int as n from swarms where ${where}`))[0]!.n);

describe('restore under load, distributed', () => {
  it('restores exactly the backup while swarms run and submissions arrive, loses nothing silently', async () => {
    const load = startSubmissions(api, KEY);
    await waitFor('a few swarms completed', async () => (await count(`status = 'completed'`)) >= 4);

    const created = await runCli(['backup', 'create', '--json'], {
      env: { ...env, LOG_LEVEL: 'error' },
    });
    expect(created.code).toBe(0);
    const manifest = JSON.parse(created.stdout) as { id: string; key: string };
    const backedUpAt = Date.now();
    await waitFor(
      'more swarms accepted after the backup',
      async () => load.accepted().filter((s) => s.t0 > backedUpAt).length >= 6,
    );

    const restored = await runCli(
      ['restore', manifest.id, '--yes', '--keep-maintenance', '--json'],
      {
        env: { ...env, LOG_LEVEL: 'error' },
        timeoutMs: 120_000,
      },
    );
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    const report = JSON.parse(restored.stdout) as RestoreReport;
    expect(report.maintenance).toBe('on');
    expect(report.acknowledged.map((r) => r.pid).sort()).toEqual(
      children.map((c) => c.child.pid).sort(),
    );
    expect(report.service.status).toBe('maintenance');

    // Before anything resumes: the restored database is the backup, table by table.
    const file = path.join(env.BACKUP_TARGET!, manifest.key);
    await promisify(execFile)('bash', [
      '-c',
      'gunzip -c "$1" | psql -X -q -d "$2"',
      '_',
      file,
      scratch.url,
    ]);
    const other = new pg.Client({ connectionString: scratch.url });
    await other.connect();
    const facts = await backupFacts(async (t) => (await other.query(t)).rows);
    await other.end();
    const { swarms: backupSwarms, unfinished } = facts;
    expectSameRows(await rowSets(run), facts.rows);
    // The backup was taken while workers held leases; none of them is valid after the restore.
    expect(facts.leased).toBeGreaterThan(0);
    expect(await count('lease_owner is not null or lease_expires_at is not null')).toBe(0);
    expect(unfinished.length).toBeGreaterThan(0);
    // Submissions go on arriving while the replicas are stopped.
    const ackAt = Date.parse(report.acknowledgedAt);
    await waitFor(
      'submissions answered during maintenance',
      async () => load.list.filter((s) => s.t0 >= ackAt).length >= 4,
    );

    const offStartedAt = Date.now();
    const off = await runCli(['maintenance', 'off'], { env: { ...env, LOG_LEVEL: 'error' } });
    expect(off.stdout).toMatch(
      /^Maintenance off\.\nThe service is healthy: 3 replica\(s\) running/,
    );
    await waitFor(
      'swarms accepted after resuming',
      async () => load.accepted().filter((s) => s.t0 > offStartedAt).length >= 3,
    );
    await load.stop();

    // The backup's unfinished swarms, and everything accepted since, run to the end.
    await waitFor(
      'every swarm finished',
      async () => (await count(`status not in (${TERMINAL})`)) === 0,
      120_000,
    );
    const statuses = await run(
      `select id::text as id, status from swarms where id = any('{${unfinished.join(',')}}'::uuid[])`,
    );
    expect(statuses.map((r) => r.status)).toEqual(unfinished.map(() => 'completed'));
    checkRun({
      submissions: load.list,
      backupSwarms,
      report,
      offStartedAt,
      finalIds: await swarmIdsByTable(run),
    });
  }, 300_000);
});
