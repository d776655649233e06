// The Grafana dashboards and provisioning files: valid JSON, unique uids and panel ids, the four
// dashboards of the guide with the panels they promise, every panel on the provisioned datasource.
// (Each panel query is run against a live Prometheus in alerting-e2e.test.ts.)
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { DEPLOY, metricNamesIn } from '../support/monitoring-stack.js';

const GRAFANA = path.join(DEPLOY, 'grafana');
const DASH_DIR = path.join(GRAFANA, 'dashboards');

interface Dashboard {
  uid: string;
  title: string;
  panels: Array<{
    id: number;
    title: string;
    type: string;
    datasource: { type: string; uid: string };
    targets: Array<{ refId: string; expr: string; datasource: { uid: string } }>;
  }>;
}

const files = fs.readdirSync(DASH_DIR).filter((f) => f.endsWith('.json'));
const dashboards = files.map((f) => ({
  file: f,
  d: JSON.parse(fs.readFileSync(path.join(DASH_DIR, f), 'utf8')) as Dashboard,
}));

describe('dashboards', () => {
  it("are the guide's four, with unique uids and titles", () => {
    expect(
      dashboards.map(({ d }) => d.title.replace(/^Claude Flow Novice \/ /, '')).sort(),
    ).toEqual(['Application Overview', 'Business Metrics', 'Security', 'System Health']);
    const uids = dashboards.map(({ d }) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(uid).toMatch(/^[a-z0-9-]{1,40}$/);
  });

  it('give every panel a unique id, at least one query, and the provisioned datasource', () => {
    const ds = YAML.parse(
      fs.readFileSync(path.join(GRAFANA, 'provisioning', 'datasources', 'prometheus.yml'), 'utf8'),
    ) as { datasources: Array<{ uid: string; type: string }> };
    const uid = ds.datasources[0]!.uid;
    expect(ds.datasources[0]!.type).toBe('prometheus');
    for (const { file, d } of dashboards) {
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
      for (const p of d.panels) {
        expect(p.targets.length, `${file} ${p.title}`).toBeGreaterThan(0);
        expect(p.datasource.uid).toBe(uid);
        for (const t of p.targets) {
          expect(t.datasource.uid).toBe(uid);
          expect(t.expr.trim().length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('cover what each dashboard is for', () => {
    const uses = (title: string) =>
      new Set(
        dashboards
          .find(({ d }) => d.title.endsWith(title))!
          .d.panels.flatMap((p) => p.targets.flatMap((t) => metricNamesIn(t.expr))),
      );
    const business = uses('Business Metrics');
    for (const m of [
      'active_agents_count',
      'swarm_operations_total',
      'job:agent_success_rate:avg',
      'llm_tokens_total',
      'llm_cost_usd_total',
      'cfn_iterations_bucket',
      'cfn_consensus_score_bucket',
    ])
      expect(business, m).toContain(m);
    const security = uses('Security');
    for (const m of ['auth_failures_total', 'rate_limited_requests_total', 'audit_events_total'])
      expect(security, m).toContain(m);
    const system = uses('System Health');
    for (const m of [
      'memory_usage_percent',
      'cpu_usage_percent',
      'disk_usage_percent',
      'dependency_up',
    ])
      expect(system, m).toContain(m);
    const app = uses('Application Overview');
    for (const m of [
      'job:http_requests:rate5m',
      'job:http_request_error_ratio:rate5m',
      'job:http_request_duration_seconds:p95_5m',
      'job:http_streams_active:sum',
      'http_stream_duration_seconds_count',
    ])
      expect(app, m).toContain(m);
  });
});

it('provisions the dashboards from the directory they are mounted in', () => {
  const p = YAML.parse(
    fs.readFileSync(
      path.join(GRAFANA, 'provisioning', 'dashboards', 'claude-flow-novice.yml'),
      'utf8',
    ),
  ) as { apiVersion: number; providers: Array<{ type: string; options: { path: string } }> };
  expect(p.apiVersion).toBe(1);
  expect(p.providers[0]).toMatchObject({
    type: 'file',
    options: { path: '/var/lib/grafana/dashboards' },
  });
});
