// Real Prometheus and Alertmanager for the monitoring tests, configured from the repository's own
// deploy/ files (rewritten only for loopback addresses, temp storage and short timings), plus
// helpers to read the rule files and to find the metric names a PromQL expression uses.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { freePort } from './free-port.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const DEPLOY = path.join(REPO, 'deploy');
export const RULES_DIR = path.join(DEPLOY, 'prometheus', 'rules');

const PACKAGES: Record<string, string> = {
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  amtool: 'prometheus-alertmanager',
  yamllint: 'yamllint',
  shellcheck: 'shellcheck',
};

/** The tool's path; a missing tool fails the test with what to install (never a skip). */
export function requireTool(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const file = found.stdout.trim();
  if (found.status !== 0 || !file) {
    throw new Error(
      `${name} is not installed: run scripts/install-test-tools.sh (Debian package ${PACKAGES[name] ?? name}).`,
    );
  }
  return file;
}

export function run(
  tool: string,
  args: string[],
  cwd = REPO,
): { code: number | null; out: string } {
  const r = spawnSync(requireTool(tool), args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export interface RuleDef {
  group: string;
  file: string;
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<Omit<RuleDef, 'group' | 'file'>> }>;
}

export function ruleFiles(): string[] {
  return fs
    .readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => path.join(RULES_DIR, f));
}

export function loadRules(): RuleDef[] {
  return ruleFiles().flatMap((file) =>
    (YAML.parse(fs.readFileSync(file, 'utf8')) as RuleFile).groups.flatMap((g) =>
      g.rules.map((r) => ({ ...r, group: g.name, file })),
    ),
  );
}

/** Copies the real rule files into `dir` with every `for:` replaced by `forDuration`. */
export function writeTestRules(dir: string, forDuration: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const file of ruleFiles()) {
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as RuleFile;
    for (const g of doc.groups) for (const r of g.rules) if (r.for) r.for = forDuration;
    fs.writeFileSync(path.join(dir, path.basename(file)), YAML.stringify(doc));
  }
}

const PROMQL_WORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
  'atan2',
]);

/**
 * Metric names an expression selects: identifiers that are neither functions, keywords, label
 * names (inside braces or grouping clauses) nor durations. Recording-rule names are included.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const after = stripped.slice(m.index + word.length).trimStart();
    if (after.startsWith('(')) continue; // a function or aggregation
    if (PROMQL_WORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

export interface ManagedProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function manage(bin: string, args: string[]): ManagedProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 200, the process exits, or `timeoutMs` passes. */
async function waitReady(url: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null)
      throw new Error(`${url}: the process exited (${proc.child.exitCode}):\n${proc.output()}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms:\n${proc.output()}`);
}

export interface PromResult {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

export interface RunningPrometheus extends ManagedProcess {
  url: string;
  /** Instant query through the HTTP API; throws on a query error. */
  query(q: string): Promise<PromResult[]>;
  /** Range query over the last `seconds` at 1 s steps. */
  queryRange(q: string, seconds: number): Promise<PromResult[]>;
  alerts(): Promise<Array<{ labels: Record<string, string>; state: string }>>;
}

export async function startPrometheus(options: {
  dir: string;
  appTarget: string;
  alertmanagerTarget: string;
  forDuration?: string;
}): Promise<RunningPrometheus> {
  const bin = requireTool('prometheus');
  fs.mkdirSync(options.dir, { recursive: true });
  const rulesDir = path.join(options.dir, 'rules');
  writeTestRules(rulesDir, options.forDuration ?? '2s');
  // The real prometheus.yml, with loopback targets, 1 s timings and only the application job
  // (the exporters are not part of the test).
  const config = YAML.parse(
    fs.readFileSync(path.join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8'),
  ) as {
    global: Record<string, unknown>;
    rule_files: string[];
    alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    scrape_configs: Array<{
      job_name: string;
      scrape_interval?: string;
      static_configs: Array<{ targets: string[] }>;
    }>;
  };
  config.global = {
    ...config.global,
    scrape_interval: '1s',
    scrape_timeout: '1s',
    evaluation_interval: '1s',
  };
  config.rule_files = [path.join(rulesDir, '*.yml')];
  config.alerting.alertmanagers = [{ static_configs: [{ targets: [options.alertmanagerTarget] }] }];
  const app = config.scrape_configs.find((j) => j.job_name === 'claude-flow-novice');
  if (!app) throw new Error('deploy/prometheus/prometheus.yml has no claude-flow-novice job');
  app.scrape_interval = '1s';
  app.static_configs = [{ targets: [options.appTarget] }];
  config.scrape_configs = [app];
  const configFile = path.join(options.dir, 'prometheus.yml');
  fs.writeFileSync(configFile, YAML.stringify(config));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = manage(bin, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${path.join(options.dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  await waitReady(`${url}/-/ready`, proc, 30_000);

  async function api(pathname: string): Promise<unknown> {
    const res = await fetch(url + pathname);
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`${pathname}: ${body.error ?? res.status}`);
    return body.data;
  }
  return {
    ...proc,
    url,
    async query(q) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(q)}`)) as {
        result: PromResult[];
      };
      return data.result;
    },
    async queryRange(q, seconds) {
      const end = Date.now() / 1000;
      const data = (await api(
        `/api/v1/query_range?query=${encodeURIComponent(q)}&start=${end - seconds}&end=${end}&step=1`,
      )) as { result: PromResult[] };
      return data.result;
    },
    async alerts() {
      const data = (await api('/api/v1/alerts')) as {
        alerts: Array<{ labels: Record<string, string>; state: string }>;
      };
      return data.alerts;
    },
  };
}

export interface RunningAlertmanager extends ManagedProcess {
  url: string;
  target: string;
}

/**
 * The real alertmanager.yml with its receivers pointed at the webhook sink (Slack api_url and
 * PagerDuty url), a test routing key instead of the key file, and 1 s grouping.
 */
export async function startAlertmanager(options: {
  dir: string;
  sinkUrl: string;
}): Promise<RunningAlertmanager> {
  const bin = requireTool('prometheus-alertmanager');
  fs.mkdirSync(options.dir, { recursive: true });
  const config = YAML.parse(
    fs.readFileSync(path.join(DEPLOY, 'alertmanager', 'alertmanager.yml'), 'utf8'),
  ) as {
    global: Record<string, unknown>;
    templates: string[];
    route: Record<string, unknown> & { routes?: Array<Record<string, unknown>> };
    receivers: Array<{
      name: string;
      slack_configs?: Array<Record<string, unknown>>;
      pagerduty_configs?: Array<Record<string, unknown>>;
    }>;
  };
  delete config.global.slack_api_url_file;
  config.templates = [path.join(DEPLOY, 'alertmanager', 'templates', '*.tmpl')];
  for (const r of [config.route, ...(config.route.routes ?? [])]) {
    if ('group_wait' in r || r === config.route) r.group_wait = '1s';
    if ('group_interval' in r || r === config.route) r.group_interval = '1s';
  }
  for (const receiver of config.receivers) {
    for (const s of receiver.slack_configs ?? [])
      s.api_url = `${options.sinkUrl}/slack/${receiver.name}`;
    for (const p of receiver.pagerduty_configs ?? []) {
      delete p.routing_key_file;
      p.routing_key = 'test-routing-key';
      p.url = `${options.sinkUrl}/pagerduty/${receiver.name}`;
    }
  }
  const configFile = path.join(options.dir, 'alertmanager.yml');
  fs.writeFileSync(configFile, YAML.stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = manage(bin, [
    `--config.file=${configFile}`,
    `--storage.path=${path.join(options.dir, 'alertmanager-data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
  await waitReady(`${url}/-/ready`, proc, 30_000);
  return { ...proc, url, target: `127.0.0.1:${port}` };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
