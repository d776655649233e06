// Every metric the alert rules and the Grafana dashboards use exists: in the service's real
// /metrics output (after traffic, so labelled series exist), as a recording rule, as
// Prometheus's own `up`, in a named exporter's known metrics, or on the explicit allow-list of
// the backup metrics, whose series exist once a backup ran.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY, loadRules, metricNamesIn } from '../support/monitoring-stack.js';
import {
  agentOf,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';

/** Metrics of the exporters prometheus.yml scrapes that the rules or dashboards may use. */
const EXPORTER_METRICS: Record<string, string[]> = {
  node_exporter: [
    'node_filesystem_avail_bytes',
    'node_filesystem_size_bytes',
    'node_memory_MemAvailable_bytes',
    'node_memory_MemTotal_bytes',
    'node_cpu_seconds_total',
  ],
  postgres_exporter: ['pg_up', 'pg_stat_database_numbackends', 'pg_settings_max_connections'],
  redis_exporter: ['redis_up', 'redis_connected_clients', 'redis_memory_used_bytes'],
};

/** Exported by the backup module from its catalog, once a backup has run (src/observability/backup-metrics.ts). */
const PROVIDED_BY_BACKUP_MODULE = [
  'backup_last_success_timestamp_seconds',
  'backup_duration_seconds',
  'backup_size_bytes',
  'backup_failures_total',
];

/**
 * Exported only for the certificates of CFN_TLS_WATCH, unset here (src/observability/tls-metrics.ts;
 * their exposition from a running service is tested in test/e2e/cert-check.test.ts).
 */
const PROVIDED_BY_TLS_WATCH = ['tls_cert_expiry_seconds', 'tls_cert_check_errors_total'];

/** Series Prometheus itself writes for every target. */
const PROMETHEUS_OWN = ['up'];

function dashboardExprs(): Array<{ where: string; expr: string }> {
  const dir = path.join(DEPLOY, 'grafana', 'dashboards');
  return fs.readdirSync(dir).flatMap((file) => {
    const d = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    return d.panels.flatMap((p) =>
      p.targets.map((t) => ({ where: `${file}: ${p.title}`, expr: t.expr })),
    );
  });
}

let h: SwarmHarness;
let exported: Set<string>;

beforeAll(async () => {
  h = await startSwarmHarness();
  h.llm.setResponder((req) => (agentOf(req) === 'val-a' ? validator(0.95) : implementer(0.9)));
  const s = await h.submit({
    objective: 'metric names',
    agents: ['impl-a'],
    validators: ['val-a'],
  });
  await h.follow(s.id);
  expect((await h.server.fetch('/api/whoami', { key: 'cfn_not_a_key_000000' })).status).toBe(401);
  const text = await (await h.server.fetch('/metrics')).text();
  exported = new Set(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/[{ ]/)[0]!),
  );
});
afterAll(async () => {
  await h?.stop();
});

describe('metricNamesIn', () => {
  it('finds selected metrics and skips functions, keywords, labels and durations', () => {
    expect(
      metricNamesIn(
        'sum by (job, le) (rate(http_requests_total{status_code=~"5..", job="x"}[5m])) / ' +
          'job:http_requests:rate5m > 0.05 or absent(up{job="a"}) and on () time() - foo offset 10m',
      ).sort(),
    ).toEqual(['foo', 'http_requests_total', 'job:http_requests:rate5m', 'up']);
  });
});

describe('metrics used by the rules and dashboards', () => {
  it('all exist', () => {
    const recorded = new Set(loadRules().flatMap((r) => (r.record ? [r.record] : [])));
    const exporter = new Set(Object.values(EXPORTER_METRICS).flat());
    const allowed = new Set([
      ...PROVIDED_BY_BACKUP_MODULE,
      ...PROVIDED_BY_TLS_WATCH,
      ...PROMETHEUS_OWN,
    ]);
    const uses = [
      ...loadRules().map((r) => ({
        where: `${path.basename(r.file)}: ${r.alert ?? r.record}`,
        expr: r.expr,
      })),
      ...dashboardExprs(),
    ];
    expect(uses.length).toBeGreaterThan(40);
    const missing: string[] = [];
    for (const u of uses) {
      for (const name of metricNamesIn(u.expr)) {
        if (exported.has(name) || recorded.has(name) || exporter.has(name) || allowed.has(name))
          continue;
        missing.push(`${u.where}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('take the application metrics from its real output, including the labelled business series', () => {
    for (const name of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'http_stream_duration_seconds_bucket',
      'http_streams_active',
      'dependency_up',
      'auth_failures_total',
      'rate_limited_requests_total',
      'audit_events_total',
      'llm_tokens_total',
      'llm_cost_usd_total',
      'agent_tasks_total',
      'agent_task_duration_seconds_bucket',
      'cfn_iterations_bucket',
      'cfn_consensus_score_bucket',
      'swarm_operations_total',
      'active_agents_count',
      'agent_success_rate',
    ])
      expect(exported, name).toContain(name);
    // The backup metrics have series only once a backup ran (their exposition from a real catalog
    // is tested in test/backup/metrics.test.ts); what shows here must be one of them.
    for (const name of [...exported].filter((n) => n.startsWith('backup_')))
      expect(PROVIDED_BY_BACKUP_MODULE, name).toContain(name);
  });

  it('use every allow-listed backup metric name only in rules (no dashboard waits for them)', () => {
    const used = new Set(loadRules().flatMap((r) => metricNamesIn(r.expr)));
    expect(used).toContain('backup_last_success_timestamp_seconds');
    const inDashboards = new Set(dashboardExprs().flatMap((d) => metricNamesIn(d.expr)));
    for (const name of PROVIDED_BY_BACKUP_MODULE) expect(inDashboards.has(name), name).toBe(false);
  });
});
