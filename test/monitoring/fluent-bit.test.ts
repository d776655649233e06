// The Fluent Bit configuration's structure (the fluent-bit binary is not needed): it tails the
// files the service really writes (LOG_DIR/*.log), parses them with a JSON parser whose time key
// and format match the service's real log lines, and ships to CloudWatch Logs and Loki.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY, tempDir } from '../support/monitoring-stack.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

interface Section {
  name: string;
  entries: Record<string, string>;
}

/** Parses Fluent Bit's classic format: [SECTION] headers, indented `Key value` lines, @SET. */
function parseClassic(text: string): { sections: Section[]; vars: Record<string, string> } {
  const sections: Section[] = [];
  const vars: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const set = line.match(/^@SET\s+(\w+)=(.*)$/);
    const header = line.match(/^\[(\w+)\]$/);
    if (set) vars[set[1]!] = set[2]!;
    else if (header) sections.push({ name: header[1]!, entries: {} });
    else {
      const kv = line.match(/^(\S+)\s+(.*)$/);
      if (!kv || !sections.length || !/^\s+/.test(raw))
        throw new Error(`unexpected line: ${JSON.stringify(raw)}`);
      sections.at(-1)!.entries[kv[1]!.toLowerCase()] = kv[2]!.trim();
    }
  }
  return { sections, vars };
}

const dir = path.join(DEPLOY, 'fluent-bit');
const main = parseClassic(fs.readFileSync(path.join(dir, 'fluent-bit.conf'), 'utf8'));
const parsers = parseClassic(fs.readFileSync(path.join(dir, 'parsers.conf'), 'utf8'));
const section = (name: string, plugin?: string) =>
  main.sections.filter(
    (s) => s.name === name && (plugin === undefined || s.entries.name === plugin),
  );

let s: TestServer;
let logDir: string;
beforeAll(async () => {
  logDir = tempDir('cfn-fluent-');
  s = await startTestServer({ LOG_DIR: logDir, LOG_LEVEL: 'info' });
  await s.fetch('/api/whoami', { key: s.adminKey, headers: { 'x-request-id': 'fluent-check' } });
  // File writes are asynchronous: wait (bounded) for the request's line to land.
  const file = path.join(logDir, 'app.log');
  const deadline = Date.now() + 10_000;
  while (!(fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('"fluent-check"'))) {
    if (Date.now() > deadline) throw new Error(`${file} never got the request's log line`);
    await new Promise((r) => setTimeout(r, 50));
  }
});
afterAll(async () => {
  await s?.stop();
  fs.rmSync(logDir, { recursive: true, force: true });
});

describe('fluent-bit.conf', () => {
  it('loads parsers.conf and tails <log_dir>/*.log with the JSON parser', () => {
    expect(section('SERVICE')[0]!.entries.parsers_file).toBe('parsers.conf');
    const [tail] = section('INPUT', 'tail');
    expect(tail).toBeDefined();
    expect(tail!.entries.path).toBe('${log_dir}/*.log');
    expect(main.vars.log_dir).toBe('/var/log/claude-flow');
    expect(tail!.entries.tag).toBe('claude-flow.*');
    expect(tail!.entries.db).toMatch(/\.db$/); // positions survive restarts
    const parser = parsers.sections.find((p) => p.entries.name === tail!.entries.parser);
    expect(parser?.entries.format).toBe('json');
  });

  it('ships to CloudWatch Logs as the guide does, and to Loki', () => {
    const [cw] = section('OUTPUT', 'cloudwatch_logs');
    expect(cw?.entries).toMatchObject({
      match: 'claude-flow.*',
      region: 'us-east-1',
      log_group_name: '/aws/ecs/claude-flow-novice',
    });
    const [loki] = section('OUTPUT', 'loki');
    expect(loki?.entries).toMatchObject({ match: 'claude-flow.*', line_format: 'json' });
    expect(loki!.entries.labels).toContain('job=claude-flow-novice');
    // No credentials in the file.
    const text = fs.readFileSync(path.join(dir, 'fluent-bit.conf'), 'utf8');
    expect(text).not.toMatch(/aws_access_key|aws_secret|http_passwd|bearer_token/i);
  });

  it('matches the files the service writes, and its parser reads their time field', () => {
    const files = fs.readdirSync(logDir);
    expect(files).toContain('app.log');
    const glob = section('INPUT', 'tail')[0]!.entries.path!.split('/').at(-1)!;
    const re = new RegExp(`^${glob.replace('.', '\\.').replace('*', '.*')}$`);
    expect(files.filter((f) => re.test(f))).toEqual(['app.log']);

    const parser = parsers.sections.find((p) => p.entries.name === 'claude-flow-json')!;
    expect(parser.entries.time_format).toBe('%Y-%m-%dT%H:%M:%S.%LZ');
    const lines = fs
      .readFileSync(path.join(logDir, 'app.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      const time = l[parser.entries.time_key!];
      expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(l).toMatchObject({ service: 'claude-flow-novice' });
      expect(typeof l.level).toBe('string'); // a Loki label_keys entry
    }
    expect(lines).toContainEqual(expect.objectContaining({ requestId: 'fluent-check' }));
  });
});
