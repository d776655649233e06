import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadLogConfig } from './load-config.js';

const load = (env: Record<string, string>) => loadConfig(env, '/srv/app');

describe('loadConfig', () => {
  it('applies the documented defaults on an empty environment', () => {
    const c = load({});
    expect(c.http).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      bodyLimit: '1mb',
      rateLimitPerMinute: 600,
      authCacheMs: 1000,
      streams: { maxPerCaller: 10, idleTimeoutMs: 300_000, maxLifetimeMs: 3_600_000 },
    });
    expect(c.env).toBe('development');
    expect(c.log).toEqual({ level: 'info', dir: undefined });
    expect(c.dataDir).toBe('/srv/app/data');
    expect(c.database).toEqual({
      url: undefined,
      readUrl: undefined,
      poolMax: 10,
      connectTimeoutMs: 5000,
      pglite: { sharedBuffersMb: 16, workMemMb: 4, maintenanceWorkMemMb: 16 },
    });
    expect(c.redis).toEqual({
      url: undefined,
      prefix: 'cfn',
      reconnectMaxMs: 5000,
      commandTimeoutMs: 2000,
    });
    expect(c.shutdownTimeoutMs).toBe(10_000);
  });

  it('reads CFN_TLS_WATCH, resolving file paths, and names it when an entry is wrong', () => {
    expect(load({}).tls.watch).toEqual([]);
    expect(load({ CFN_TLS_WATCH: 'web=tls/tls.crt, api.example.com:443' }).tls.watch).toEqual([
      { name: 'web', target: { kind: 'file', path: '/srv/app/tls/tls.crt' } },
      {
        name: 'api.example.com:443',
        target: { kind: 'tls', host: 'api.example.com', port: 443 },
      },
    ]);
    const err = (() => {
      try {
        load({ CFN_TLS_WATCH: 'web=a.crt,internal.example.com:0' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('CFN_TLS_WATCH');
    expect((err as ConfigError).message).toMatch(/entry 2: expected a port between 1 and 65535/);
    expect((err as ConfigError).message).not.toContain('internal.example.com');
  });

  it('reads the access blocklist settings, loopback allowed by default', () => {
    expect(load({}).auth.block).toEqual({
      threshold: 20,
      windowMs: 300_000,
      durationMs: 900_000,
      allow: ['127.0.0.0/8', '::1'],
    });
    expect(
      load({
        CFN_AUTH_BLOCK_THRESHOLD: '0',
        CFN_AUTH_BLOCK_WINDOW_S: '60',
        CFN_AUTH_BLOCK_DURATION_S: '30',
        CFN_AUTH_BLOCK_ALLOW: ' 10.0.0.0/8, loopback ,fd00::/8,192.0.2.7',
      }).auth.block,
    ).toEqual({
      threshold: 0,
      windowMs: 60_000,
      durationMs: 30_000,
      allow: ['10.0.0.0/8', '127.0.0.0/8', '::1', 'fd00::/8', '192.0.2.7'],
    });
    expect(load({ CFN_AUTH_BLOCK_ALLOW: 'none' }).auth.block.allow).toEqual([]);
    expect(load({ CFN_AUTH_BLOCK_ALLOW: '' }).auth.block.allow).toEqual([]);
    for (const [variable, value] of [
      ['CFN_AUTH_BLOCK_THRESHOLD', '-1'],
      ['CFN_AUTH_BLOCK_THRESHOLD', '2.5'],
      ['CFN_AUTH_BLOCK_WINDOW_S', '0'],
      ['CFN_AUTH_BLOCK_DURATION_S', 'soon'],
      ['CFN_AUTH_BLOCK_ALLOW', 'example.com'],
      ['CFN_AUTH_BLOCK_ALLOW', '10.0.0.0/33'],
      ['CFN_AUTH_BLOCK_ALLOW', '10.0.0.0/8/8'],
    ]) {
      expect(() => load({ [variable!]: value! }), `${variable}=${value}`).toThrow(
        new RegExp(`^Invalid environment variable ${variable}: expected`),
      );
    }
  });

  it('returns a deeply frozen object', () => {
    const c = load({ PORT: '8080' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.http)).toBe(true);
    expect(() => {
      (c.http as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('coerces and resolves values', () => {
    const c = load({
      PORT: '8080',
      LOG_LEVEL: 'DEBUG',
      LOG_DIR: 'logs',
      CFN_DATA_DIR: '/var/lib/cfn',
      DATABASE_URL: 'postgres://u:p@db:5432/claudeflow',
      DATABASE_READ_URL: 'postgresql://u:p@replica/claudeflow',
      REDIS_URL: 'redis://cache:6379',
      BODY_LIMIT: '256KB',
    });
    expect(c.http.port).toBe(8080);
    expect(c.log).toEqual({ level: 'debug', dir: path.join('/srv/app', 'logs') });
    expect(c.dataDir).toBe('/var/lib/cfn');
    expect(c.database.readUrl).toBe('postgresql://u:p@replica/claudeflow');
    expect(c.http.bodyLimit).toBe('256kb');
  });

  it('treats empty strings as unset', () => {
    expect(load({ PORT: '', DATABASE_URL: ' ' }).http.port).toBe(3000);
  });

  it.each([
    ['PORT', '70000'],
    ['PORT', '3.5'],
    ['NODE_ENV', 'staging'],
    ['DATABASE_POOL_MAX', '0'],
    ['REDIS_COMMAND_TIMEOUT_MS', '10'],
    ['METRICS_TOKEN', 'short'],
    ['BODY_LIMIT', 'lots'],
    ['CFN_MAX_STREAMS_PER_CALLER', '0'],
    ['CFN_STREAM_IDLE_TIMEOUT_MS', 'soon'],
    ['DATABASE_URL', 'not a url'],
    ['PGBACKREST_STANZA', 'two words'],
    ['PGBACKREST_STANZA', '-dash-first'],
    ['CFN_SANDBOX', 'maybe'],
    ['CFN_SANDBOX_NETWORK', 'yes'],
    ['CFN_SANDBOX_UID', '0'],
    ['CFN_SHARED_WORKSPACES', '/elsewhere'],
    ['CFN_SHARED_WORKSPACES', '.'],
  ])('names %s in the error for %j', (variable, value) => {
    try {
      load({ [variable]: value });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(variable);
      expect((err as Error).message).toMatch(
        new RegExp(`^Invalid environment variable ${variable}: expected`),
      );
      expect((err as Error).message).not.toContain(value === 'short' ? 'short' : '\u0000');
    }
  });

  it('requires DATABASE_URL when a read replica is configured', () => {
    expect(() => load({ DATABASE_READ_URL: 'postgres://r/db' })).toThrow(
      /DATABASE_READ_URL: requires DATABASE_URL/,
    );
  });

  it('enables pgBackRest with a stanza, and requires PostgreSQL for it', () => {
    expect(load({}).backup.pgbackrest).toBeUndefined();
    const url = 'postgres://u@db/claudeflow';
    expect(load({ DATABASE_URL: url, PGBACKREST_STANZA: 'cfn' }).backup.pgbackrest).toEqual({
      stanza: 'cfn',
      configFile: undefined,
      command: ['pgbackrest'],
    });
    expect(
      load({
        DATABASE_URL: url,
        PGBACKREST_STANZA: 'main-15',
        PGBACKREST_CONFIG: 'etc/pgbackrest.conf',
        CFN_PGBACKREST_COMMAND: ' sudo -u postgres  pgbackrest ',
      }).backup.pgbackrest,
    ).toEqual({
      stanza: 'main-15',
      configFile: '/srv/app/etc/pgbackrest.conf',
      command: ['sudo', '-u', 'postgres', 'pgbackrest'],
    });
    expect(() => load({ PGBACKREST_STANZA: 'cfn' })).toThrow(
      /^Invalid environment variable PGBACKREST_STANZA: requires DATABASE_URL/,
    );
  });

  it('shares no workspace by default; shared ones resolve in the first root', () => {
    expect(load({}).engine.sharedWorkspaces).toEqual([]);
    const e = load({
      CFN_WORKSPACE_ROOTS: '/ws:/more',
      CFN_SHARED_WORKSPACES: 'common, /more/team',
    }).engine;
    expect(e.sharedWorkspaces).toEqual(['/ws/common', '/more/team']);
  });

  it('sandboxes commands by default, without network, and filters no command line', () => {
    const e = load({}).engine;
    expect(e.sandbox).toEqual({
      mode: 'auto',
      bwrap: 'bwrap',
      networkAllowed: false,
      uid: 65534,
      gid: 65534,
    });
    expect(e.toolCommands).toBeUndefined();
    const set = load({
      CFN_SANDBOX: 'BWRAP',
      CFN_SANDBOX_BWRAP: '/opt/bwrap',
      CFN_SANDBOX_NETWORK: 'allow',
      CFN_SANDBOX_UID: '2000',
      CFN_SANDBOX_GID: '2001',
      CFN_TOOL_COMMANDS: 'npm, git',
    }).engine;
    expect(set.sandbox).toEqual({
      mode: 'bwrap',
      bwrap: '/opt/bwrap',
      networkAllowed: true,
      uid: 2000,
      gid: 2001,
    });
    expect(set.toolCommands).toEqual(['npm', 'git']);
  });

  it("gives the CLI provider the service's HOME, and unconfined commands a HOME of their own", () => {
    const e = load({ HOME: '/home/operator', PATH: '/opt/bin:/usr/bin' }).engine;
    expect(e.cliEnv).toMatchObject({ HOME: '/home/operator', PATH: '/opt/bin:/usr/bin' });
    expect(e.unconfinedEnv).toMatchObject({
      HOME: '/srv/app/data/home',
      PATH: '/opt/bin:/usr/bin',
    });
    expect(load({}).engine.cliEnv.HOME).toBe('/srv/app/data/home');
  });
});

describe('loadLogConfig', () => {
  it('reads LOG_DIR and LOG_LEVEL even when another variable is invalid', () => {
    const env = { PORT: 'abc', LOG_DIR: 'logs', LOG_LEVEL: 'WARN' };
    expect(() => load(env)).toThrow(ConfigError);
    expect(loadLogConfig(env, '/srv/app')).toEqual({ level: 'warn', dir: '/srv/app/logs' });
  });

  it('falls back to the default level when LOG_LEVEL itself is invalid; no LOG_DIR, no file', () => {
    expect(loadLogConfig({ LOG_LEVEL: 'loud', LOG_DIR: '/var/log/cfn' })).toEqual({
      level: 'info',
      dir: '/var/log/cfn',
    });
    expect(loadLogConfig({ LOG_DIR: '  ' })).toEqual({ level: 'info', dir: undefined });
  });
});
