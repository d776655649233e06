// docker-compose.yml against the Compose Specification's JSON schema (test/deploy/compose-spec.json:
// the compose-spec project's schema, Apache-2.0, as the npm package dclint 3.1.0 ships it in
// schemas/compose.schema.json), and against what the other shipped files expect of it: the guide's
// service names, the host names Prometheus, nginx and Grafana use, every variable in .env.example.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { envSchema } from '../../src/config/schema.js';
import { ROOT, readText } from './repo.js';

interface Service {
  image?: string;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  networks?: { default?: { aliases?: string[] } };
}
interface Compose {
  services: Record<string, Service>;
}

// ajv-formats is CommonJS: its default export arrives as the module object under NodeNext.
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

const text = readText('docker-compose.yml');
const compose = YAML.parse(text, { merge: true }) as Compose;
const services = compose.services;

function schemaValidator(): ValidateFunction {
  const schema = JSON.parse(readText('test/deploy/compose-spec.json')) as Record<string, unknown>;
  // Its $schema names draft-07 by an https URL Ajv does not know as the draft-07 meta-schema.
  delete schema.$schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

describe('docker-compose.yml', () => {
  it('validates against the Compose Specification schema', () => {
    const validate = schemaValidator();
    // Validated as written (anchors and merge keys resolved, variables not substituted).
    const ok = validate(YAML.parse(text, { merge: true }));
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('passes yamllint with the settings of the deployment files', () => {
    // Throws with yamllint's report on any warning or error (-s).
    execFileSync('yamllint', ['-s', '-c', 'deploy/.yamllint.yml', 'docker-compose.yml'], {
      cwd: ROOT,
    });
  });

  it('is refused by the schema when a service has an unknown key or a wrong type', () => {
    const validate = schemaValidator();
    const typo = YAML.parse(text, { merge: true }) as Compose;
    (typo.services.postgres as Record<string, unknown>).helthcheck = {};
    expect(validate(typo)).toBe(false);
    const wrongType = YAML.parse(text, { merge: true }) as Compose;
    (wrongType.services.redis as Record<string, unknown>).ports = 'six-three-seven-nine';
    expect(validate(wrongType)).toBe(false);
  });

  it("has the guide's services, the PostgreSQL 15 database and user claudeflow, Redis 7", () => {
    for (const name of [
      'claude-flow-novice',
      'postgres',
      'redis',
      'minio',
      'nginx',
      'prometheus',
      'alertmanager',
      'grafana',
    ])
      expect(Object.keys(services)).toContain(name);
    const pg = services.postgres!;
    expect(pg.image).toMatch(/^postgres:15(\.|-|$)/);
    expect(pg.environment).toMatchObject({
      POSTGRES_DB: 'claudeflow',
      POSTGRES_USER: 'claudeflow',
    });
    expect(pg.command).toEqual(['postgres', '-c', 'shared_preload_libraries=pg_stat_statements']);
    expect(services.redis!.image).toMatch(/^redis:7(\.|-|$)/);
    expect(services['claude-flow-novice']!.environment?.DATABASE_URL).toMatch(
      /^postgres:\/\/claudeflow:.*@postgres:5432\/claudeflow$/,
    );
  });

  it('runs `cfn start` by default and `cfn serve` + `cfn worker` in the distributed profile', () => {
    const app = services['claude-flow-novice']!;
    expect(app.profiles).toBeUndefined();
    expect(app.command).toEqual(['${CFN_APP_COMMAND:-start}']);
    const worker = services['claude-flow-novice-worker']!;
    expect(worker.profiles).toEqual(['distributed']);
    expect(worker.command).toEqual(['worker']);
    expect(worker.image).toBe(app.image);
    expect(readText('.env.example')).toMatch(/serve \(API only; with --profile distributed\)/);
  });

  it("sets only the service's own variables, and builds the package's version", () => {
    const vars = new Set(Object.keys(envSchema.shape));
    for (const name of ['claude-flow-novice', 'claude-flow-novice-worker'])
      for (const key of Object.keys(services[name]!.environment ?? {}))
        expect(vars, `${name}: ${key}`).toContain(key);
    const pkg = JSON.parse(readText('package.json')) as { version: string };
    expect(services['claude-flow-novice']!.image).toBe(
      `claude-flow-novice:\${CFN_IMAGE_TAG:-${pkg.version}}`,
    );
    expect(readText('.env.example')).toContain(`CFN_IMAGE_TAG=${pkg.version}\n`);
  });

  it('lets the app drain and finish its work before SIGKILL', () => {
    for (const name of ['claude-flow-novice', 'claude-flow-novice-worker']) {
      const s = services[name]! as Service & { stop_grace_period?: string };
      const env = s.environment!;
      const needed = Number(env.SHUTDOWN_DRAIN_MS) + 2 * Number(env.SHUTDOWN_TIMEOUT_MS);
      expect(Number(/^(\d+)s$/.exec(s.stop_grace_period ?? '')?.[1]) * 1000, name).toBeGreaterThan(
        needed,
      );
    }
  });

  it('pins every image to a tag that is not latest', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toMatch(/^[^\s]+:[^\s]+$/);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
  });

  it('gives every host name that Prometheus, nginx and Grafana use to a service', () => {
    const hosts = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      hosts.add(name);
      for (const a of s.networks?.default?.aliases ?? []) hosts.add(a);
    }
    const prom = readText('deploy/prometheus/prometheus.yml');
    const promTargets = [...prom.matchAll(/'([a-z0-9-]+):(\d+)'/g)].map((m) => m[1]!);
    expect(promTargets).toEqual(
      expect.arrayContaining(['app', 'alertmanager', 'node-exporter', 'postgres-exporter']),
    );
    const upstreams = [...readText('deploy/nginx/nginx.conf').matchAll(/^\s*server (\S+):3000/gm)];
    expect(upstreams.length).toBeGreaterThan(0);
    const grafana = readText('deploy/grafana/provisioning/datasources/prometheus.yml');
    const grafanaHost = /url: http:\/\/([a-z0-9-]+):/.exec(grafana)?.[1];
    for (const h of [...promTargets, ...upstreams.map((m) => m[1]!), grafanaHost!])
      expect([...hosts], `host ${h}`).toContain(h);
  });

  it('mounts configuration files that exist in the repository', () => {
    for (const [name, s] of Object.entries(services))
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!.replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1');
        if (!source.startsWith('./')) continue;
        expect(fs.existsSync(path.join(ROOT, source)), `${name}: ${source}`).toBe(true);
      }
    const nginx = services.nginx!.volumes!;
    expect(nginx).toContain('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(services.prometheus!.volumes).toContain(
      './deploy/prometheus/rules:/etc/prometheus/rules:ro',
    );
    expect(services.grafana!.volumes).toContain(
      './deploy/grafana/provisioning:/etc/grafana/provisioning:ro',
    );
  });

  it('waits for healthy dependencies, each of which has a health check', () => {
    const app = services['claude-flow-novice']!;
    expect(app.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    for (const [name, s] of Object.entries(services))
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
        if (condition === 'service_healthy')
          expect(services[dep]!.healthcheck, `${dep} has a healthcheck`).toBeDefined();
      }
    expect(app.healthcheck?.test.slice(0, 3)).toEqual(['CMD', 'node', '/app/dist/main/bin.js']);
    expect(app.healthcheck?.test[3]).toBe('health');
  });

  it('documents in .env.example exactly the variables it uses, and .env is never committed', () => {
    const used = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    const documented = new Set(
      [...readText('.env.example').matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]!),
    );
    expect([...used].sort()).toEqual([...documented].sort());
    const ignored = execFileSync('git', ['check-ignore', '.env'], { cwd: ROOT }).toString().trim();
    expect(ignored).toBe('.env');
  });
});
