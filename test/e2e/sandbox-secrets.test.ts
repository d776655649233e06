// The built `cfn start`, holding an admin key and a provider key in its environment, runs a swarm
// whose run_command tool call and command validator try to read them (their own environment, the
// service's /proc/<pid>/environ, every /proc/*/environ they can see): they find nothing, and the
// keys appear in no event, task output, API answer, model request or log line.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type RunningCli } from '../support/cli.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import { agentOf, implementer, parseSse, writeAgents } from '../support/swarm-harness.js';

const ADMIN_KEY = `cfn_admin_${randomBytes(16).toString('hex')}`;
const PROVIDER_KEY = `sk-ant-${randomBytes(16).toString('hex')}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-sandbox-e2e-'));
let llm: FakeLlm;
let service: RunningCli;
let url: string;

/** Everything a command might try; ends with exit 1 so a validator's feedback shows its output. */
const probe = (servicePid: number) =>
  [
    'echo probe-ran',
    'env',
    `cat /proc/${servicePid}/environ`,
    'for f in /proc/[0-9]*/environ; do echo "== $f"; tr "\\0" "\\n" < $f; done',
    'grep -rls CFN_BOOTSTRAP_ADMIN_KEY /etc /home /tmp . 2>/dev/null',
    'echo "admin=[$CFN_BOOTSTRAP_ADMIN_KEY] provider=[$ANTHROPIC_API_KEY]"',
    'exit 1',
  ].join('; ');

beforeAll(async () => {
  llm = await startFakeLlm({ apiKey: PROVIDER_KEY });
  writeAgents(path.join(dir, 'agents'));
  service = spawnCli(['start'], {
    cwd: dir,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      CFN_DATA_DIR: path.join(dir, 'data'),
      CFN_AGENTS_DIR: path.join(dir, 'agents'),
      CFN_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      ANTHROPIC_API_KEY: PROVIDER_KEY,
      ANTHROPIC_BASE_URL: llm.url,
    },
  });
  url = String((await service.waitForLog((l) => l.msg === 'listening')).url);
  // The keys really are in the service's environment, for the host to see.
  const environ = fs.readFileSync(`/proc/${service.child.pid}/environ`, 'utf8');
  expect(environ).toContain(ADMIN_KEY);
  expect(environ).toContain(PROVIDER_KEY);
});

afterAll(async () => {
  if (service && service.child.exitCode === null) {
    service.child.kill('SIGTERM');
    await service.exited;
  }
  await llm?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const api = (pathname: string, init: RequestInit = {}) =>
  fetch(url + pathname, {
    ...init,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      'content-type': 'application/json',
      ...(init.headers as Record<string, string>),
    },
  });

describe('secrets of the service', () => {
  it('/health and cfn health report the sandbox available', async () => {
    const body = (await (await fetch(`${url}/health`)).json()) as Record<string, unknown>;
    expect(body.sandbox).toMatchObject({ status: 'available' });
    const viaCli = await runCli(['health', '--url', url]);
    expect(viaCli.stdout).toMatch(/^command sandbox available: \/.*bwrap\n/m);
  });

  it('stay out of reach of run_command and command validators, and out of every answer', async () => {
    const command = probe(service.child.pid!);
    llm.setResponder((req) => {
      if (agentOf(req) !== 'impl-a') return implementer(0.9);
      if (req.messages.at(-1)!.role === 'tool') return implementer(0.9, 'probed');
      return {
        text: 'Probing.',
        toolCalls: [
          { name: 'run_command', input: { command } },
          { name: 'write_file', input: { path: 'x.txt', content: 'x' } },
        ],
      };
    });
    const submitted = await api('/api/swarms', {
      method: 'POST',
      body: JSON.stringify({
        objective: 'probe for secrets',
        agents: ['impl-a'],
        validators: [{ command }],
        workspace: 'probe',
        maxIterations: 1,
      }),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const eventsText = await (await api(`/api/swarms/${id}/events`)).text();
    const events = parseSse(eventsText);
    expect(events.at(-1)?.event).toBe('swarm.completed');

    // Both probes ran, and found nothing.
    const toolResult = llm.requests
      .flatMap((r) => r.messages)
      .find((m) => m.role === 'tool' && m.content.includes('probe-ran'));
    expect(toolResult?.content).toMatch(/No such file or directory/);
    expect(toolResult?.content).toContain('admin=[] provider=[]');
    const swarmText = await (await api(`/api/swarms/${id}`)).text();
    const swarm = JSON.parse(swarmText) as {
      iterations: Array<{ tasks: Array<{ command: string | null; output: { feedback: string } }> }>;
    };
    const validatorTask = swarm.iterations[0]!.tasks.find((t) => t.command);
    expect(validatorTask?.output.feedback).toMatch(/^failed \(exit 1\):\n[\s\S]*probe-ran/);
    expect(validatorTask?.output.feedback).toContain('admin=[] provider=[]');

    const answers = [
      eventsText,
      swarmText,
      await (await api('/api/swarms')).text(),
      JSON.stringify(llm.requests.map((r) => r.body)),
      service.stdout(),
      service.stderr(),
    ];
    for (const text of answers) {
      expect(text).not.toContain(ADMIN_KEY);
      expect(text).not.toContain(PROVIDER_KEY);
    }
  });
});

describe('CFN_SANDBOX=bwrap without bwrap', () => {
  it('exits 1 with one line naming CFN_SANDBOX', async () => {
    const r = await runCli(['start'], {
      cwd: dir,
      env: {
        PORT: '0',
        CFN_DATA_DIR: path.join(dir, 'data-required'),
        CFN_SANDBOX: 'bwrap',
        CFN_SANDBOX_BWRAP: '/nonexistent/bwrap',
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^cfn: Invalid environment variable CFN_SANDBOX: is bwrap but the sandbox does not work: \/nonexistent\/bwrap \(CFN_SANDBOX_BWRAP\) is not an executable file\n/m,
    );
  });
});
