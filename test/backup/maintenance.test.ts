// Restore while the service runs: writes get 503 MAINTENANCE and readiness is false during the
// restore, workers wait; afterwards the service is healthy and serves the restored data.
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/adapters/db/database.js';
import { migrateDatabase } from '../../src/adapters/db/migrate.js';
import { createPgSettingsStore } from '../../src/adapters/db/backup-catalog-store.js';
import { pausedDuring } from '../../src/main/engine-runtime.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMaintenanceMode } from '../../src/ops/maintenance.js';
import { captureLogs } from '../support/log-capture.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/services.js';
import { startTestServer } from '../support/test-server.js';
import { backupTools, onCleanup, openRuntime, tempDir } from './harness.js';

const ADMIN = 'cfn_test_admin_key_0123456789abcdef';

async function createKey(server: Awaited<ReturnType<typeof startTestServer>>, name: string) {
  return server.fetch('/api/keys', {
    method: 'POST',
    key: ADMIN,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, role: 'viewer' }),
  });
}

describe('maintenance during a restore', () => {
  it('answers writes 503 while restoring, then serves the restored data', async () => {
    const db = await createTestDatabase();
    onCleanup(() => db.drop());
    const target = tempDir('cfn-target-');
    const env = {
      DATABASE_URL: db.url,
      BACKUP_TARGET: target,
      CFN_MAINTENANCE_CACHE_MS: '0',
      CFN_BOOTSTRAP_ADMIN_KEY: ADMIN,
      BACKUP_SCHEDULES: 'off',
    };
    const server = await startTestServer(env);
    onCleanup(() => server.stop());
    for (const name of ['alpha', 'beta']) expect((await createKey(server, name)).status).toBe(201);

    const cli = await openRuntime('postgres', env);
    const during: Array<Promise<{ write: Response; ready: Response }>> = [];
    const tools = backupTools(cli.runtime, cli.env, {
      onProgress: (p) => {
        if (p.phase.startsWith('restoring') && during.length === 0) {
          during.push(
            (async () => ({
              write: await createKey(server, 'during'),
              ready: await server.fetch('/health/ready'),
            }))(),
          );
        }
      },
    });
    const manifest = await tools.create({ type: 'database' });
    expect((await createKey(server, 'after-backup')).status).toBe(201);

    await tools.restore(manifest.id);
    expect(during).toHaveLength(1);
    const { write, ready } = await during[0]!;
    expect(write.status).toBe(503);
    expect(write.headers.get('retry-after')).toBe('30');
    const body = (await write.json()) as {
      error: { code: string; message: string; requestId: string };
    };
    expect(body.error.code).toBe('MAINTENANCE');
    expect(body.error.message).toMatch(/maintenance/);
    expect(body.error.requestId).toEqual(expect.any(String));
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/maintenance|locked/);

    // Afterwards: healthy, writable, and the key made after the backup is gone.
    expect((await server.fetch('/health/ready')).status).toBe(200);
    expect((await createKey(server, 'later')).status).toBe(201);
    const list = (await (await server.fetch('/api/keys', { key: ADMIN })).json()) as {
      items: Array<{ name: string }>;
    };
    expect(list.items.map((k) => k.name).sort()).toEqual(
      ['alpha', 'beta', 'bootstrap-admin', 'later'].sort(),
    );
  });

  it('`cfn maintenance on|off|status` switches every replica', async () => {
    const db = await createTestDatabase();
    onCleanup(() => db.drop());
    const env = {
      DATABASE_URL: db.url,
      CFN_MAINTENANCE_CACHE_MS: '0',
      CFN_BOOTSTRAP_ADMIN_KEY: ADMIN,
      BACKUP_SCHEDULES: 'off',
      LOG_LEVEL: 'error',
    };
    const server = await startTestServer(env);
    onCleanup(() => server.stop());
    const on = await runCli(['maintenance', 'on', '--reason', 'disk swap'], { env });
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(
      /Maintenance on since .* \(disk swap\)\. Turn it off with `cfn maintenance off`/,
    );
    expect((await createKey(server, 'x')).status).toBe(503);
    expect((await server.fetch('/api/keys', { key: ADMIN })).status).toBe(200);
    const status = await runCli(['maintenance', 'status', '--json'], { env });
    expect(JSON.parse(status.stdout)).toMatchObject({ enabled: true, reason: 'disk swap' });
    expect((await runCli(['maintenance', 'off'], { env })).code).toBe(0);
    expect((await createKey(server, 'y')).status).toBe(201);
    expect((await server.fetch('/health/ready')).status).toBe(200);
  });

  it('workers wait while maintenance is on', async () => {
    const logger = createLogger({ level: 'warn', version: 't', destination: captureLogs().stream });
    const database = await openDatabase({ dataDir: 'memory://', logger });
    onCleanup(() => database.close());
    await migrateDatabase(database);
    const maintenance = createMaintenanceMode({
      settings: createPgSettingsStore(database.db),
      cacheMs: 0,
    });
    const ran: string[] = [];
    const handlers = pausedDuring(
      maintenance,
      {
        'swarm.run': async () => {},
        'swarm.advance': async (p) => void ran.push(p.swarmId),
        'agent.run': async () => {},
        'webhook.deliver': async () => {},
      },
      20,
    );
    await maintenance.enable('test');
    const job = handlers['swarm.advance']({ swarmId: 's1' }, new AbortController().signal, {
      redelivered: false,
    });
    // Several polls pass while maintenance is on: the job has not run.
    for (let i = 0; i < 5; i++) await maintenance.current();
    await new Promise((r) => setTimeout(r, 100));
    expect(ran).toEqual([]);
    await maintenance.disable();
    await job;
    expect(ran).toEqual(['s1']);
  });
});
