// The monitoring kit end to end: the built service (`cfn start` as a child process) on real
// PostgreSQL and Redis (through proxies the test cuts), a real Prometheus loading the repository's
// rules (only `for:` shortened) and a real Alertmanager with the repository's routing, whose Slack
// and PagerDuty receivers post to a loopback sink. Real failures must reach the right receiver,
// and every Grafana panel query must return data from this Prometheus.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type RunningCli } from '../support/cli.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import {
  DEPLOY,
  loadRules,
  metricNamesIn,
  startAlertmanager,
  startPrometheus,
  tempDir,
  type RunningAlertmanager,
  type RunningPrometheus,
} from '../support/monitoring-stack.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/services.js';
import { agentOf, implementer, validator, writeAgents } from '../support/swarm-harness.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import {
  startWebhookSink,
  type PagerDutyEvent,
  type SinkPost,
  type SlackPost,
  type WebhookSink,
} from '../support/webhook-sink.js';

const KEY = 'cfn_monitoring_e2e_admin_key_0123456789';
const dir = tempDir('cfn-monitoring-');
let db: TestDatabase | undefined;
let pgProxy: TcpProxy | undefined;
let redisProxy: TcpProxy | undefined;
let llm: FakeLlm | undefined;
let sink: WebhookSink | undefined;
let am: RunningAlertmanager | undefined;
let prom: RunningPrometheus | undefined;
let app: RunningCli | undefined;
let appUrl = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value, for at most `timeoutMs`. */
async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(
    `${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`,
  );
}

function api(pathname: string, init: RequestInit & { key?: string } = {}) {
  const { key = KEY, headers, ...rest } = init;
  return fetch(appUrl + pathname, {
    ...rest,
    headers: { authorization: `Bearer ${key}`, ...(headers as Record<string, string>) },
  });
}

const paged =
  (alertname: string, action: 'trigger' | 'resolve', after: number) =>
  (p: SinkPost): p is PagerDutyEvent =>
    p.kind === 'pagerduty' &&
    p.at >= after &&
    p.body.event_action === action &&
    (action === 'resolve' || (p.body.payload?.summary ?? '').includes(` ${alertname} `));

const slacked =
  (receiver: string, alertname: string, after: number) =>
  (p: SinkPost): p is SlackPost =>
    p.kind === 'slack' &&
    p.receiver === receiver &&
    p.at >= after &&
    (p.body.attachments[0]?.title ?? '').includes(` ${alertname} `);

async function runSwarm(objective: string): Promise<void> {
  const res = await api('/api/swarms', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ objective, agents: ['impl-a'], validators: ['val-a'], mode: 'mvp' }),
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  // Followed as a client does, over its event stream (ended by the service once the swarm is):
  // the stream panels read what it leaves in http_stream_duration_seconds.
  const events = await api(`/api/swarms/${id}/events`, { signal: AbortSignal.timeout(60_000) });
  expect(events.status).toBe(200);
  expect(await events.text()).toContain('event: swarm.completed');
  await eventually(`swarm ${id} completed`, async () => {
    const s = (await (await api(`/api/swarms/${id}`)).json()) as { status: string };
    return s.status === 'completed';
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  const pg = new URL(db.url);
  pgProxy = await startTcpProxy(pg.hostname, Number(pg.port || 5432));
  pg.port = String(pgProxy.port);
  const redis = new URL(TEST_REDIS_URL);
  redisProxy = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
  redis.port = String(redisProxy.port);

  llm = await startFakeLlm();
  llm.setResponder((req) => (agentOf(req) === 'val-a' ? validator(0.95) : implementer(0.9)));
  writeAgents(path.join(dir, 'agents'));

  app = spawnCli(['start'], {
    cwd: dir,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      CFN_DATA_DIR: path.join(dir, 'data'),
      CFN_AGENTS_DIR: path.join(dir, 'agents'),
      CFN_BOOTSTRAP_ADMIN_KEY: KEY,
      DATABASE_URL: pg.toString(),
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      REDIS_URL: redis.toString(),
      HEALTH_CHECK_TIMEOUT_MS: '300',
      RATE_LIMIT_PER_MINUTE: '0',
      ANTHROPIC_API_KEY: 'test-key',
      ANTHROPIC_BASE_URL: llm.url,
    },
  });
  const listening = await app.waitForLog((l) => l.msg === 'listening');
  appUrl = String(listening.url);

  sink = await startWebhookSink();
  am = await startAlertmanager({ dir: path.join(dir, 'am'), sinkUrl: sink.url });
  prom = await startPrometheus({
    dir: path.join(dir, 'prom'),
    appTarget: new URL(appUrl).host,
    alertmanagerTarget: am.target,
    forDuration: '2s',
  });
}, 120_000);

afterAll(async () => {
  if (app && app.child.exitCode === null && app.child.signalCode === null)
    app.child.kill('SIGKILL');
  await prom?.stop();
  await am?.stop();
  await sink?.close();
  await llm?.close();
  await pgProxy?.close();
  await redisProxy?.close();
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('alerting end to end', () => {
  it('scrapes the application', async () => {
    await eventually('up == 1', async () => {
      const r = await prom!.query('up{job="claude-flow-novice"}');
      return r[0]?.value?.[1] === '1';
    });
    const deps = await prom!.query('dependency_up{job="claude-flow-novice"}');
    expect(Object.fromEntries(deps.map((s) => [s.metric.dependency, s.value![1]]))).toEqual({
      database: '1',
      redis: '1',
    });
  });

  it('records the business metrics of real swarms', async () => {
    await runSwarm('first monitored swarm');
    // The second swarm runs once Prometheus holds the first one's series, so rates see it.
    await eventually('llm_tokens_total scraped', async () => {
      return (await prom!.query('llm_tokens_total{job="claude-flow-novice"}')).length > 0;
    });
    await runSwarm('second monitored swarm');
    await eventually('second swarm scraped', async () => {
      const r = await prom!.query(
        'sum(swarm_operations_total{job="claude-flow-novice", operation="complete"})',
      );
      return r[0]?.value?.[1] === '2';
    });
  }, 90_000);

  it('delivers SecurityIncident to the pager and Slack on a burst of failed logins', async () => {
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 40 }, () =>
        api('/api/whoami', { key: 'cfn_wrong_key_guess_0000000000' }).then((r) => r.status),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([401]));
    const page = await sink!.waitFor(paged('SecurityIncident', 'trigger', started), 45_000, 'page');
    expect(page.body.routing_key).toBe('test-routing-key');
    expect(page.body.payload?.severity).toBe('critical');
    expect(JSON.stringify(page.body.payload?.custom_details)).toContain(
      'docs/runbooks/SecurityIncident.md',
    );
    const slack = await sink!.waitFor(
      slacked('oncall-critical', 'SecurityIncident', started),
      15_000,
      'Slack post',
    );
    expect(slack.body.channel).toBe('#incidents');
    expect(slack.body.attachments[0]!.text).toContain('Runbook: docs/runbooks/SecurityIncident.md');
  }, 60_000);

  it('delivers HighErrorRate to the pager on a burst of 5xx (Redis cut: /health answers 503)', async () => {
    await redisProxy!.cut();
    try {
      await eventually('/health 503', async () => (await fetch(`${appUrl}/health`)).status === 503);
      // rate() sees increases only of series Prometheus already holds: let it scrape the first
      // 503 before the burst (a burst inside one scrape interval would otherwise count as 0).
      await eventually('503 series scraped', async () => {
        const r = await prom!.query(
          'http_requests_total{job="claude-flow-novice", route="/health", status_code="503"}',
        );
        return r.length > 0;
      });
      const started = Date.now();
      const statuses = await Promise.all(
        Array.from({ length: 150 }, () => fetch(`${appUrl}/health`).then((r) => r.status)),
      );
      expect(new Set(statuses)).toEqual(new Set([503]));
      await sink!.waitFor(paged('HighErrorRate', 'trigger', started), 45_000, 'HighErrorRate page');
      await sink!.waitFor(
        slacked('oncall-critical', 'HighErrorRate', started),
        15_000,
        'HighErrorRate Slack post',
      );
    } finally {
      await redisProxy!.restore();
    }
    await eventually('/health 200', async () => (await fetch(`${appUrl}/health`)).status === 200);
  }, 90_000);

  it('delivers DatabaseDown while /metrics keeps answering, and its resolution', async () => {
    const started = Date.now();
    await pgProxy!.cut();
    let trigger: PagerDutyEvent;
    try {
      trigger = await sink!.waitFor(
        paged('DatabaseDown', 'trigger', started),
        45_000,
        'DatabaseDown page',
      );
      const metrics = await fetch(`${appUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^dependency_up\{dependency="database"\} 0$/m);
    } finally {
      await pgProxy!.restore();
    }
    const resolved = await sink!.waitFor(
      (p): p is PagerDutyEvent =>
        paged('DatabaseDown', 'resolve', started)(p) && p.body.dedup_key === trigger.body.dedup_key,
      45_000,
      'DatabaseDown resolution',
    );
    expect(resolved.body.dedup_key).toBeTruthy();
    // Back to normal: the probe answers and the database-backed gauges (NaN during the outage)
    // carry real values again, through the recording rule.
    await eventually('database back', async () => {
      const up = await prom!.query(
        'dependency_up{job="claude-flow-novice", dependency="database"}',
      );
      const rate = await prom!.query('job:agent_success_rate:avg');
      return up[0]?.value?.[1] === '1' && Number.isFinite(Number(rate[0]?.value?.[1]));
    });
  }, 120_000);

  it('answers every Grafana panel query with data', async () => {
    const recorded = new Set(loadRules().flatMap((r) => (r.record ? [r.record] : [])));
    const dashDir = path.join(DEPLOY, 'grafana', 'dashboards');
    const failures: string[] = [];
    let queries = 0;
    for (const file of fs.readdirSync(dashDir)) {
      const d = JSON.parse(fs.readFileSync(path.join(dashDir, file), 'utf8')) as {
        panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
      };
      for (const panel of d.panels) {
        for (const t of panel.targets) {
          queries += 1;
          for (const name of metricNamesIn(t.expr).filter((n) => n.includes(':')))
            expect(recorded, `${file} ${panel.title}: ${name}`).toContain(name);
          const result = await prom!.query(t.expr).catch((err: Error) => err);
          if (result instanceof Error) failures.push(`${file} "${panel.title}": ${result.message}`);
          else if (!result.some((s) => Number.isFinite(Number(s.value?.[1]))))
            failures.push(`${file} "${panel.title}": no finite value for ${t.expr}`);
        }
      }
    }
    expect(queries).toBeGreaterThan(20);
    expect(failures.join('\n')).toBe('');
  }, 60_000);

  it('delivers ApplicationDown to the pager when the application stops', async () => {
    const stopped = Date.now();
    app!.child.kill('SIGTERM');
    expect((await app!.exited).code).toBe(0);
    const page = await sink!.waitFor(
      paged('ApplicationDown', 'trigger', stopped),
      45_000,
      'ApplicationDown page',
    );
    expect(JSON.stringify(page.body.payload?.custom_details)).toContain(
      'docs/runbooks/ApplicationDown.md',
    );
    await sink!.waitFor(
      slacked('oncall-critical', 'ApplicationDown', stopped),
      15_000,
      'ApplicationDown Slack post',
    );
  }, 60_000);
});

describe('Alertmanager routing and inhibition (alerts posted to its API)', () => {
  async function post(alerts: Array<Record<string, string>>) {
    const res = await fetch(`${am!.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        alerts.map((labels) => ({
          labels,
          annotations: { summary: `${labels.alertname} check`, runbook_url: 'docs/runbooks/x.md' },
          startsAt: new Date().toISOString(),
        })),
      ),
    });
    expect(res.status).toBe(200);
  }

  it('silences the alerts ApplicationDown causes', async () => {
    await post([
      { alertname: 'ApplicationDown', severity: 'critical', service: 'inhibition-check' },
      { alertname: 'HighLatency', severity: 'warning', service: 'inhibition-check' },
      { alertname: 'HighMemoryUsage', severity: 'warning', service: 'inhibition-check' },
    ]);
    const states = await eventually('inhibition', async () => {
      const res = await fetch(`${am!.url}/api/v2/alerts?filter=service%3D%22inhibition-check%22`);
      const list = (await res.json()) as Array<{
        labels: Record<string, string>;
        status: { state: string; inhibitedBy: string[] };
      }>;
      const byName = Object.fromEntries(list.map((a) => [a.labels.alertname, a.status]));
      return byName.HighLatency?.state === 'suppressed' ? byName : undefined;
    });
    expect(states.HighLatency!.inhibitedBy).toHaveLength(1);
    expect(states.ApplicationDown!.state).toBe('active');
    // Not caused by the outage: still delivered.
    expect(states.HighMemoryUsage!.state).toBe('active');
  });

  it('posts warning and info alerts to their Slack channels and never pages for them', async () => {
    const started = Date.now();
    await post([
      { alertname: 'LowDiskSpace', severity: 'warning', service: 'routing-check' },
      { alertname: 'BackupComplete', severity: 'info', service: 'routing-check', type: 'database' },
    ]);
    const warning = await sink!.waitFor(
      slacked('slack-warnings', 'LowDiskSpace', started),
      30_000,
      'warning post',
    );
    expect(warning.body.channel).toBe('#alerts');
    const info = await sink!.waitFor(
      slacked('slack-info', 'BackupComplete', started),
      90_000,
      'info post',
    );
    expect(info.body.channel).toBe('#alerts-info');
    const pages = sink!.posts.filter(
      (p) =>
        p.kind === 'pagerduty' &&
        /LowDiskSpace|BackupComplete|HighLatency|HighMemoryUsage/.test(
          p.body.payload?.summary ?? '',
        ),
    );
    expect(pages).toEqual([]);
    expect(sink!.rejected).toEqual([]);
  }, 120_000);
});
