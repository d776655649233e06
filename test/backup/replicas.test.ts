// The replica registry around a restore: every running replica must acknowledge maintenance first
// (a process stopped with SIGSTOP, or a registry row nobody answers for, fails the restore with
// its name and nothing changes), and the report says how the service really is afterwards:
// healthy, unhealthy (which check), or stopped.
import { describe, expect, it } from 'vitest';
import { serviceStatus } from '../../src/ops/replica-roll-call.js';
import { runCli, spawnCli } from '../support/cli.js';
import { createTestDatabase } from '../support/services.js';
import { backupTools, onCleanup, openRuntime, tempDir } from './harness.js';
import { fingerprint, scribble, seedRealisticData } from './fixtures.js';

const FAST = {
  CFN_REPLICA_HEARTBEAT_MS: '200',
  CFN_REPLICA_STALE_MS: '5000',
  CFN_RESTORE_ACK_TIMEOUT_MS: '2000',
  LOG_LEVEL: 'warn',
  BACKUP_SCHEDULES: 'off',
};

const beat = (id: string, pid: number, health: { status: 'ok' | 'error'; failing?: string[] }) => ({
  id,
  role: 'all',
  host: 'elsewhere',
  pid,
  version: 'test',
  startedAt: new Date(),
  ackSince: null,
  health,
});

describe('replicas and a restore', () => {
  it('waits for every replica: a stopped process fails the restore by name, nothing changes', async () => {
    const db = await createTestDatabase();
    onCleanup(() => db.drop());
    const { runtime, env } = await openRuntime('postgres', { DATABASE_URL: db.url, ...FAST });
    // No running swarms in the seed: its made-up event logs are not ones an engine can run.
    await seedRealisticData(runtime, 0);
    const tools = backupTools(runtime, env);
    const manifest = await tools.create({ type: 'database' });

    const service = spawnCli(['start'], {
      env: { ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    });
    onCleanup(() => void service.child.kill('SIGKILL'));
    await service
      .waitForLog((l) => l.msg === 'listening')
      .catch((e: Error) => {
        throw new Error(`${e.message}\nstderr: ${service.stderr()}`);
      });
    const pid = service.child.pid!;
    service.child.kill('SIGSTOP');

    await scribble(runtime.database);
    const before = await fingerprint(runtime.database);
    const failed = await tools.restore(manifest.id).catch((e: Error) => e);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toMatch(
      new RegExp(
        `did not start and nothing was changed \\(maintenance is off again\\): 1 replica\\(s\\) did not acknowledge maintenance within 2 s: \\S+:${pid}:\\S+ \\(all on \\S+, pid ${pid}, last heartbeat`,
      ),
    );
    expect(await fingerprint(runtime.database)).toEqual(before);
    expect((await runtime.maintenance.status()).enabled).toBe(false);

    // Running again, it acknowledges: the restore goes through and says it was stopped first.
    service.child.kill('SIGCONT');
    const report = await tools.restore(manifest.id);
    expect(report.acknowledged.map((r) => r.pid)).toEqual([pid]);
    expect(report.service.status).toBe('healthy');
    expect(report.service.replicas).toEqual([
      expect.objectContaining({ pid, resumed: true, health: 'ok' }),
    ]);
    service.child.kill('SIGTERM');
    expect((await service.exited).code).toBe(0);
  }, 120_000);

  it('a registry row nobody answers for fails the restore with its name', async () => {
    const { runtime, env } = await openRuntime('pglite', FAST);
    const tools = backupTools(runtime, env);
    const manifest = await tools.create({ type: 'database' });
    await runtime.replicas.heartbeat(beat('ghost-replica', 4242, { status: 'ok' }));
    await expect(tools.restore(manifest.id)).rejects.toThrow(
      /did not acknowledge maintenance within 2 s: ghost-replica \(all on elsewhere, pid 4242/,
    );
    expect((await runtime.maintenance.status()).enabled).toBe(false);
    await runtime.replicas.remove('ghost-replica');
    const report = await tools.restore(manifest.id);
    expect(report.service.status).toBe('stopped');
  }, 60_000);

  it('says the service is stopped when no replica runs, and names a failing check', async () => {
    const env = { CFN_DATA_DIR: tempDir('cfn-cli-'), ...FAST, LOG_LEVEL: 'error' };
    expect((await runCli(['backup', 'create'], { env })).code).toBe(0);
    const r = await runCli(['restore', 'latest', '--yes'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /Maintenance is off; the service is stopped: no replica has sent a heartbeat in the last 5 s\. Start the service/,
    );
    expect(r.stdout).toMatch(/No replica was running during the restore\./);

    const { runtime } = await openRuntime('pglite', FAST);
    await runtime.replicas.heartbeat(beat('sick', 1, { status: 'error', failing: ['redis'] }));
    const s = await serviceStatus('', { registry: runtime.replicas, staleMs: 5000 }, false);
    expect(s).toMatchObject({
      status: 'unhealthy',
      detail: 'unhealthy: sick reports failing: redis.',
    });
  }, 120_000);
});
