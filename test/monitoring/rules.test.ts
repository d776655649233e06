// The monitoring kit's static checks with the real tools: promtool (config, rules, rule unit
// tests), amtool (config, the route of every alert), yamllint; and the kit's contract with the
// operations guide: every alert exists with its severity, annotations and a runbook file.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  DEPLOY,
  REPO,
  loadRules,
  metricNamesIn,
  ruleFiles,
  run,
} from '../support/monitoring-stack.js';

const PROM = path.join(DEPLOY, 'prometheus');
const AM_CONFIG = path.join(DEPLOY, 'alertmanager', 'alertmanager.yml');

/**
 * The guide's alerts and severities, plus its SLO targets, the backup freshness check and the
 * watched certificates (issue 16).
 */
const EXPECTED: Record<string, 'critical' | 'warning' | 'info'> = {
  ApplicationDown: 'critical',
  DatabaseDown: 'critical',
  HighErrorRate: 'critical',
  SecurityIncident: 'critical',
  HighLatency: 'warning',
  HighMemoryUsage: 'warning',
  HighCPUUsage: 'warning',
  LowDiskSpace: 'warning',
  NewDeployment: 'info',
  ScalingEvent: 'info',
  BackupComplete: 'info',
  BackupMissing: 'warning',
  LatencySLOBreach: 'warning',
  ErrorRateSLOBreach: 'warning',
  AgentSuccessRateSLOBreach: 'warning',
  CertificateExpiring: 'warning',
  CertificateExpiringSoon: 'critical',
  CertificateCheckFailing: 'warning',
};

const RECEIVER = { critical: 'oncall-critical', warning: 'slack-warnings', info: 'slack-info' };

const alerts = loadRules().filter((r) => r.alert);

describe('Prometheus', () => {
  it('promtool accepts prometheus.yml', () => {
    const r = run('promtool', [
      'check',
      'config',
      '--syntax-only',
      path.join(PROM, 'prometheus.yml'),
    ]);
    expect(r.out).toContain('SUCCESS');
    expect(r.code, r.out).toBe(0);
  });

  it("scrapes the guide's job and target and the three exporters, with the guide's rule path and Alertmanager", () => {
    const cfg = YAML.parse(fs.readFileSync(path.join(PROM, 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
      scrape_configs: Array<{
        job_name: string;
        scrape_interval?: string;
        metrics_path?: string;
        static_configs: Array<{ targets: string[] }>;
      }>;
    };
    expect(cfg.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
    expect(cfg.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual([
      'alertmanager:9093',
    ]);
    const app = cfg.scrape_configs.find((j) => j.job_name === 'claude-flow-novice');
    expect(app).toMatchObject({ scrape_interval: '15s', metrics_path: '/metrics' });
    expect(app!.static_configs[0]!.targets).toEqual(['app:3000']);
    expect(cfg.scrape_configs.map((j) => j.job_name).sort()).toEqual(
      ['claude-flow-novice', 'node_exporter', 'postgres_exporter', 'redis_exporter'].sort(),
    );
  });

  it('promtool accepts every rule file', () => {
    for (const file of ruleFiles()) {
      const r = run('promtool', ['check', 'rules', file]);
      expect(r.code, r.out).toBe(0);
    }
  });

  it('passes the promtool rule unit tests (both sides of every threshold and duration)', () => {
    const tests = fs
      .readdirSync(path.join(PROM, 'tests'))
      .filter((f) => f.endsWith('.test.yml'))
      .map((f) => path.join(PROM, 'tests', f));
    expect(tests.length).toBeGreaterThan(0);
    const r = run('promtool', ['test', 'rules', ...tests]);
    expect(r.out).not.toContain('FAILED');
    expect(r.code, r.out).toBe(0);
  }, 120_000);

  it('has a unit test in which each alert fires and one in which it stays quiet', () => {
    const text = fs
      .readdirSync(path.join(PROM, 'tests'))
      .map((f) => fs.readFileSync(path.join(PROM, 'tests', f), 'utf8'))
      .join('\n');
    const docs = text.split(/^tests:/m);
    expect(docs.length).toBeGreaterThan(1);
    for (const name of Object.keys(EXPECTED)) {
      expect(text, `${name} never fires in a test`).toMatch(
        new RegExp(`exp_labels:\\s*\\{?\\s*alertname: ${name}\\b`),
      );
      expect(text, `${name} is never expected quiet`).toMatch(
        new RegExp(`alertname: ${name}\\n\\s+exp_alerts: \\[\\]`),
      );
    }
  });

  it('defines every alert of the guide with its severity, summary, description and runbook', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const a of alerts) {
      const name = a.alert!;
      expect(a.labels?.severity, name).toBe(EXPECTED[name]);
      expect(a.annotations?.summary, name).toBeTruthy();
      expect(a.annotations?.description, name).toBeTruthy();
      expect(a.annotations?.runbook_url, name).toBe(`docs/runbooks/${name}.md`);
    }
  });

  it('has a runbook file for every alert, with the sections operators need', () => {
    for (const a of alerts) {
      const file = path.join(REPO, a.annotations!.runbook_url!);
      expect(fs.existsSync(file), `${file} is missing`).toBe(true);
      const text = fs.readFileSync(file, 'utf8');
      expect(text).toMatch(new RegExp(`^# ${a.alert}\\b`, 'm'));
      for (const section of ['Meaning', 'Impact', 'Diagnosis', 'Resolution', 'Escalation'])
        expect(text, `${a.alert}: section ${section}`).toMatch(new RegExp(`^## ${section}`, 'm'));
      expect(text, `${a.alert}: priority`).toMatch(/\bP[1-4]\b/);
    }
  });

  it("keeps the guide's thresholds and durations in the expressions", () => {
    const byName = Object.fromEntries(alerts.map((a) => [a.alert, a]));
    expect(byName.ApplicationDown).toMatchObject({ for: '1m' });
    expect(byName.DatabaseDown).toMatchObject({ for: '30s' });
    expect(byName.HighErrorRate!.expr).toMatch(/> 0\.05$/);
    expect(byName.HighErrorRate).toMatchObject({ for: '5m' });
    expect(byName.HighLatency!.expr).toMatch(/> 2$/);
    expect(byName.HighMemoryUsage!.expr).toMatch(/> 80$/);
    expect(byName.HighMemoryUsage).toMatchObject({ for: '10m' });
    expect(byName.HighCPUUsage!.expr).toMatch(/> 70$/);
    expect(byName.HighCPUUsage).toMatchObject({ for: '10m' });
    expect(byName.LowDiskSpace!.expr).toMatch(/< 15/);
    expect(byName.LatencySLOBreach!.expr).toMatch(/> 1$/);
    expect(byName.ErrorRateSLOBreach!.expr).toMatch(/> 0\.01$/);
    expect(byName.AgentSuccessRateSLOBreach!.expr).toMatch(/< 0\.95$/);
    expect(byName.BackupMissing!.expr).toContain('26 * 3600');
    expect(byName.CertificateExpiring!.expr).toMatch(/< 30 \* 86400$/);
    expect(byName.CertificateExpiringSoon!.expr).toMatch(/< 7 \* 86400$/);
  });

  it('records request rate, error rate, p95 latency and agent success rate', () => {
    const records = loadRules()
      .filter((r) => r.record)
      .map((r) => r.record);
    expect(records).toEqual(
      expect.arrayContaining([
        'job:http_requests:rate5m',
        'job:http_request_error_ratio:rate5m',
        'job:http_request_duration_seconds:p95_5m',
        'job:http_streams_active:sum',
        'job:agent_success_rate:avg',
      ]),
    );
  });

  it('keeps event streams out of request latency: p95 reads http_request_duration_seconds only', () => {
    const p95 = loadRules().find((r) => r.record === 'job:http_request_duration_seconds:p95_5m')!;
    expect(metricNamesIn(p95.expr)).toEqual(['http_request_duration_seconds_bucket']);
    for (const rule of loadRules())
      expect(metricNamesIn(rule.expr), rule.alert ?? rule.record).not.toContain(
        'http_stream_duration_seconds_bucket',
      );
  });

  it('has promtool tests proving the error ratio reads 0, not "no data", when nothing failed', () => {
    // The runs themselves are in the promtool test above; this checks they are there to run.
    const doc = YAML.parse(
      fs.readFileSync(path.join(PROM, 'tests', 'recording.test.yml'), 'utf8'),
    ) as {
      tests: Array<{
        input_series: Array<{ series: string }>;
        promql_expr_test?: Array<{ expr: string; exp_samples: Array<{ value: number }> }>;
      }>;
    };
    const zeroes = doc.tests.filter(
      (t) =>
        !t.input_series.some((s) => /status_code="5\d\d"/.test(s.series)) &&
        (t.promql_expr_test ?? []).some(
          (e) =>
            e.expr === 'job:http_request_error_ratio:rate5m' &&
            e.exp_samples.length === 1 &&
            e.exp_samples[0]!.value === 0,
        ),
    );
    expect(zeroes.length).toBeGreaterThanOrEqual(2);
  });
});

describe('Alertmanager', () => {
  it('amtool accepts alertmanager.yml', () => {
    const r = run('amtool', ['check-config', AM_CONFIG]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });

  it('routes each alert by severity: critical pages, warning and info only post to Slack', () => {
    for (const a of alerts) {
      const r = run('amtool', [
        'config',
        'routes',
        'test',
        `--config.file=${AM_CONFIG}`,
        `--verify.receivers=${RECEIVER[EXPECTED[a.alert!]!]}`,
        `alertname=${a.alert}`,
        `severity=${a.labels!.severity}`,
        'service=claude-flow-novice',
      ]);
      expect(r.code, `${a.alert}: ${r.out}`).toBe(0);
    }
  });

  it('pages through PagerDuty Events v2 and Slack for critical, never pages for info, and commits no secret', () => {
    const text = fs.readFileSync(AM_CONFIG, 'utf8');
    const cfg = YAML.parse(text) as {
      global: Record<string, string>;
      receivers: Array<{
        name: string;
        pagerduty_configs?: Array<Record<string, unknown>>;
        slack_configs?: Array<Record<string, unknown>>;
      }>;
      inhibit_rules: Array<{
        source_matchers: string[];
        target_matchers: string[];
        equal: string[];
      }>;
    };
    const receiver = (n: string) => cfg.receivers.find((r) => r.name === n)!;
    expect(receiver('oncall-critical').pagerduty_configs).toHaveLength(1);
    expect(receiver('oncall-critical').slack_configs).toHaveLength(1);
    expect(receiver('slack-warnings').pagerduty_configs).toBeUndefined();
    expect(receiver('slack-info').pagerduty_configs).toBeUndefined();
    expect(receiver('slack-info').slack_configs![0]!.channel).not.toBe(
      receiver('slack-warnings').slack_configs![0]!.channel,
    );
    expect(cfg.global.pagerduty_url).toBe('https://events.pagerduty.com/v2/enqueue');
    // Secrets only by file reference.
    expect(text).not.toMatch(/^\s*(api_url|routing_key|service_key|slack_api_url):/m);
    expect(text).not.toMatch(/hooks\.slack\.com\/services\/\w/);
    const fromAppDown = cfg.inhibit_rules.find((r) =>
      r.source_matchers.includes('alertname="ApplicationDown"'),
    )!;
    expect(fromAppDown.equal).toEqual(['service']);
    expect(fromAppDown.target_matchers.join()).toMatch(/HighErrorRate/);
  });
});

it('yamllint accepts every YAML file under deploy/', () => {
  const r = run('yamllint', ['-s', '-c', path.join(DEPLOY, '.yamllint.yml'), DEPLOY]);
  expect(r.code, r.out).toBe(0);
});
