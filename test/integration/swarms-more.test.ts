// More of the engine over HTTP: workspace runs with tools, command validators and the deliverable
// check; the CLI provider; strategies; playbook; webhooks; business metrics; bad requests.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initGitRepo } from '../../src/adapters/workspace/git-workspace.js';
import {
  agentOf,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';

const WEBHOOK_SECRET = 'webhook-secret-0123456789';
let h: SwarmHarness;
let cliScript: string;
let pidDir: string;

beforeAll(async () => {
  const scratch = fs.mkdtempSync('/tmp/cfn-cli-agent-');
  pidDir = path.join(scratch, 'pids');
  fs.mkdirSync(pidDir);
  cliScript = path.join(scratch, 'agent.cjs');
  // A CLI "agent": answers like `claude -p --output-format json`, or, for a SLOW prompt, records
  // its pid and a grandchild's pid and never answers (until it is killed).
  fs.writeFileSync(
    cliScript,
    `const fs = require('fs'); const { spawn } = require('child_process');
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', () => {
  if (input.includes('SLOW')) {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    fs.writeFileSync(${JSON.stringify(pidDir)} + '/pids', process.pid + ' ' + child.pid);
    setInterval(() => {}, 1000);
    return;
  }
  const result = 'Done by the CLI agent.\\n{"confidence": 0.9, "summary": "cli did it"}';
  process.stdout.write(JSON.stringify({ type: 'result', result, usage: { input_tokens: 12, output_tokens: 7 } }));
});`,
  );
  h = await startSwarmHarness(
    {
      CFN_CLI_COMMAND: `node ${cliScript}`,
      CFN_WEBHOOK_SECRET: WEBHOOK_SECRET,
      BODY_LIMIT: '64kb',
    },
    { 'cli-impl': { role: 'implementer', provider: 'cli' } },
  );
});
afterAll(async () => {
  await h?.stop();
});

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2]?.startsWith('Z');
  } catch {
    return false;
  }
}

describe('workspace runs', () => {
  it('runs tools in the workspace, checks the deliverable, and validates with a real test command', async () => {
    const ws = path.join(h.dir, 'workspaces', 'greeting');
    fs.mkdirSync(ws, { recursive: true });
    fs.writeFileSync(
      path.join(ws, 'package.json'),
      JSON.stringify({ name: 'ws', private: true, scripts: { test: 'node test.js' } }),
    );
    fs.writeFileSync(
      path.join(ws, 'test.js'),
      "const fs = require('fs'); const ok = fs.existsSync('hello.txt') && fs.readFileSync('hello.txt', 'utf8').trim() === 'hello';\nconsole.log(ok ? 'PASS' : 'FAIL: hello.txt missing'); process.exit(ok ? 0 : 1);\n",
    );
    await initGitRepo(ws);
    let round = 0;
    h.llm.setResponder((req) => {
      if (agentOf(req) !== 'impl-a') return validator(0.95);
      round++;
      // Iteration 1: answers without touching a file (the deliverable check sends it back).
      if (round === 1) return implementer(0.9, 'thought about it');
      const last = req.messages.at(-1)!;
      if (last.role === 'tool') return implementer(0.9, 'wrote hello.txt');
      expect(req.tools.map((t) => t.name).sort()).toEqual([
        'list_files',
        'read_file',
        'run_command',
        'write_file',
      ]);
      return {
        text: 'Writing the file.',
        toolCalls: [{ name: 'write_file', input: { path: 'hello.txt', content: 'hello\n' } }],
      };
    });
    const s = await h.submit({
      objective: 'Create hello.txt saying hello',
      agents: ['impl-a'],
      validators: [{ command: 'npm test' }],
      workspace: 'greeting',
    });
    expect(s.status).toBe(202);
    const events = await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm).toMatchObject({ status: 'completed', iteration: 2 });
    expect(swarm.iterations[0]).toMatchObject({ deliverable: { passed: false, changedFiles: [] } });
    expect(swarm.iterations[1]).toMatchObject({
      deliverable: { passed: true, changedFiles: ['hello.txt'] },
      consensus: { score: 1, passed: true },
    });
    expect(events.find((e) => e.event === 'tool.called')?.data).toMatchObject({
      tool: 'write_file',
      ok: true,
    });
    expect(fs.readFileSync(path.join(ws, 'hello.txt'), 'utf8')).toBe('hello\n');
    const val = (
      swarm.iterations[1]!.tasks as Array<{ command: string | null; output: { feedback: string } }>
    ).find((t) => t.command);
    expect(val?.output.feedback).toBe('passed');
  });

  it('feeds a failing command validator output back to the implementers', async () => {
    const ws = path.join(h.dir, 'workspaces', 'failing');
    fs.mkdirSync(ws, { recursive: true });
    await initGitRepo(ws);
    h.llm.setResponder((req) =>
      req.messages.at(-1)!.role === 'tool'
        ? implementer(0.9)
        : {
            text: 'writing',
            toolCalls: [
              { name: 'write_file', input: { path: `f${Date.now()}.txt`, content: 'x' } },
            ],
          },
    );
    const s = await h.submit({
      objective: 'make the check pass',
      agents: ['impl-a'],
      validators: [{ command: 'echo "expected 2 got 3" && exit 3' }],
      workspace: 'failing',
      maxIterations: 2,
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm.status).toBe('exhausted');
    expect((swarm.iterations[1]!.feedback as string[])[0]).toMatch(
      /failed \(exit 3\):\nexpected 2 got 3/,
    );
  });

  it('counts the tokens of a task that failed after paid calls', async () => {
    fs.mkdirSync(path.join(h.dir, 'workspaces', 'partial'), { recursive: true });
    h.llm.setResponder((req) =>
      req.messages.at(-1)!.role === 'tool'
        ? { status: 401, message: 'key revoked mid-task' }
        : {
            text: 'writing',
            toolCalls: [{ name: 'write_file', input: { path: 'a.txt', content: 'a' } }],
            usage: { inputTokens: 100, outputTokens: 50 },
          },
    );
    const s = await h.submit({
      objective: 'partial spend',
      agents: ['impl-a'],
      validators: [],
      workspace: 'partial',
      maxIterations: 1,
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    const task = (swarm.iterations[0]!.tasks as Array<Record<string, unknown>>)[0]!;
    expect(task).toMatchObject({ status: 'failed', tokens: { input: 100, output: 50 } });
    expect(swarm.tokens).toEqual({ input: 100, output: 50 });
  });

  it('refuses a workspace outside the configured roots', async () => {
    const s = await h.submit({
      objective: 'x',
      agents: ['impl-a'],
      validators: [],
      workspace: '/etc',
    });
    expect(s.status).toBe(400);
    expect(JSON.stringify(s.body)).toMatch(/CFN_WORKSPACE_ROOTS/);
  });
});

describe('cli provider', () => {
  it('runs a real subprocess agent', async () => {
    const s = await h.submit({ objective: 'say hi', agents: ['cli-impl'], validators: [] });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm).toMatchObject({ status: 'completed', tokens: { input: 12, output: 7 } });
  });

  it('kills the whole process group on cancel', async () => {
    fs.rmSync(path.join(pidDir, 'pids'), { force: true });
    const s = await h.submit({ objective: 'SLOW task', agents: ['cli-impl'], validators: [] });
    const pidFile = path.join(pidDir, 'pids');
    await new Promise<void>((resolve) => {
      const watcher = fs.watch(pidDir, () => {
        if (fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').includes(' ')) {
          watcher.close();
          resolve();
        }
      });
    });
    const pids = fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    expect(pids.every(isAlive)).toBe(true);
    const t0 = Date.now();
    await h.server.fetch(`/api/swarms/${s.id}/cancel`, { method: 'POST', key: h.server.adminKey });
    await h.follow(s.id);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await h.get(s.id)).status).toBe('cancelled');
    // Process exit has no event we can wait on from here: check for at most 2 s.
    const deadline = Date.now() + 2000;
    while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(pids.filter(isAlive)).toEqual([]);
  });
});

describe('strategies', () => {
  it('parallel: every agent runs once on the objective', async () => {
    h.llm.setResponder(() => implementer(0.8));
    const s = await h.submit({
      objective: 'parallel job',
      strategy: 'parallel',
      agents: ['impl-a', 'impl-b'],
      validators: [],
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm).toMatchObject({ status: 'completed', strategy: 'parallel' });
    expect((swarm.iterations[0]!.tasks as unknown[]).length).toBe(2);
  });

  it('sequential: each agent builds on the previous one', async () => {
    h.llm.setResponder((req) => implementer(0.8, `summary from ${agentOf(req)}`));
    const s = await h.submit({
      objective: 'sequential job',
      strategy: 'sequential',
      agents: ['impl-a', 'impl-b'],
      validators: [],
    });
    await h.follow(s.id);
    expect((await h.get(s.id)).status).toBe('completed');
    const second = h.llm.requests
      .filter((r) => r.messages[0]?.content.includes('sequential job'))
      .at(-1)!;
    expect(agentOf(second)).toBe('impl-b');
    expect(second.messages[0]!.content).toContain('summary from impl-a');
  });

  it('hierarchical: the coordinator plans subtasks for the workers', async () => {
    h.llm.setResponder((req) =>
      agentOf(req) === 'coord-agent'
        ? {
            text: JSON.stringify({
              subtasks: [
                { title: 'API', instructions: 'build the API', agent: 'impl-a' },
                { title: 'UI', instructions: 'build the UI', agent: 'impl-b' },
              ],
              summary: 'split in two',
            }),
          }
        : implementer(0.85),
    );
    const s = await h.submit({
      objective: 'hierarchical job',
      strategy: 'hierarchical',
      agents: ['impl-a', 'impl-b'],
      coordinator: 'coord-agent',
      validators: [],
    });
    await h.follow(s.id);
    expect((await h.get(s.id)).status).toBe('completed');
    const workerPrompts = h.llm.requests.filter(
      (r) => r.messages[0]?.content.includes('hierarchical job') && agentOf(r) !== 'coord-agent',
    );
    expect(
      workerPrompts.map((r) => [agentOf(r), r.messages[0]!.content.includes('Your subtask')]),
    ).toEqual(
      expect.arrayContaining([
        ['impl-a', true],
        ['impl-b', true],
      ]),
    );
  });
});

describe('playbook', () => {
  it('records a retrospective and hints the next similar objective with it', async () => {
    h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
    const first = await h.submit({
      objective: 'Build a REST API for todo items with pagination',
      agents: ['impl-a'],
      validators: ['val-a'],
    });
    await h.follow(first.id);
    const second = await h.submit({
      objective: 'Build a REST API for invoices with pagination',
      agents: ['impl-a'],
      validators: ['val-a'],
    });
    await h.follow(second.id);
    const swarm = await h.get(second.id);
    expect(swarm.playbook).toMatchObject({ entryId: first.id });
    const prompt = h.llm.requests
      .filter((r) => r.messages[0]?.content.includes('invoices'))
      .find((r) => agentOf(r) === 'impl-a')!;
    expect(prompt.messages[0]!.content).toContain('What worked before on a similar objective');
  });
});

describe('webhooks', () => {
  it('delivers a signed completion webhook, retrying a failed delivery', async () => {
    const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
    const sink = http.createServer((req, res) => {
      let body = '';
      req
        .on('data', (d: Buffer) => (body += d))
        .on('end', () => {
          received.push({ headers: req.headers, body });
          res.writeHead(received.length === 1 ? 500 : 204).end();
          if (received.length === 2) sink.emit('done');
        });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const done = new Promise((r) => sink.once('done', r));
    try {
      h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
      const url = `http://127.0.0.1:${(sink.address() as { port: number }).port}/hook`;
      const s = await h.submit({
        objective: 'webhook',
        agents: ['impl-a'],
        validators: ['val-a'],
        webhookUrl: url,
      });
      await h.follow(s.id);
      await done;
      const [first, second] = received;
      expect(second!.body).toBe(first!.body);
      const payload = JSON.parse(second!.body) as {
        event: string;
        swarm: { id: string; status: string };
      };
      expect(payload).toMatchObject({
        event: 'swarm.completed',
        swarm: { id: s.id, status: 'completed' },
      });
      const expected = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(second!.body).digest('hex')}`;
      expect(second!.headers['x-cfn-signature']).toBe(expected);
      expect([first!.headers['x-cfn-delivery'], second!.headers['x-cfn-delivery']]).toEqual([
        `${s.id}:1`,
        `${s.id}:2`,
      ]);
    } finally {
      sink.close();
    }
  });
});

describe('business metrics', () => {
  it('exposes swarm, task, token, gate and queue metrics derived from what happened', async () => {
    const text = await (await h.server.fetch('/metrics')).text();
    const value = (re: RegExp) => Number(text.match(re)?.[1] ?? NaN);
    expect(
      value(
        /^swarm_operations_total\{strategy="cfn-loop",operation="complete",status="completed"\} (\d+)/m,
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(
        /^swarm_operations_total\{strategy="cfn-loop",operation="create",status="queued"\} (\d+)/m,
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(/^agent_tasks_total\{agent="impl-a",outcome="succeeded"\} (\d+)/m),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(/^llm_tokens_total\{provider="anthropic",model="[^"]+",kind="input"\} (\d+)/m),
    ).toBeGreaterThan(0);
    expect(text).toMatch(/^llm_cost_usd_total\{provider="anthropic",model="[^"]+"\} [\d.e+-]+$/m);
    expect(value(/^cfn_gate_results_total\{result="pass"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^cfn_consensus_score_count \d+/m);
    expect(text).toMatch(/^cfn_iterations_count \d+/m);
    expect(text).toMatch(/^agent_task_duration_seconds_count\{agent="impl-a"\} \d+/m);
    expect(value(/^active_agents_count (\d+)/m)).toBe(0);
    const rate = value(/^agent_success_rate ([\d.e+-]+)/m);
    expect(rate).toBeGreaterThan(0);
    expect(rate).toBeLessThanOrEqual(1);
    expect(text).toMatch(/^queue_depth\{queue="agent.run",state="waiting"\} 0/m);
    // Embedded, swarm runs wait in the process's own queue (none waits once they have ended).
    expect(text).toMatch(/^queue_depth\{queue="swarm.run",state="waiting"\} 0/m);
  });
});

describe('bad requests to the swarm API', () => {
  const post = (body: string, key: string | undefined = h.server.adminKey) =>
    h.server.fetch('/api/swarms', {
      method: 'POST',
      key,
      headers: { 'content-type': 'application/json' },
      body,
    });

  it('answers malformed, oversized and invalid bodies with JSON errors', async () => {
    expect((await post('{"objective": ')).status).toBe(400);
    const big = await post(JSON.stringify({ objective: 'x'.repeat(100_000) }));
    expect(big.status).toBe(413);
    const unknown = await post(JSON.stringify({ objective: 'x', agents: ['nobody-here'] }));
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(
      /unknown agent\(s\): nobody-here/,
    );
    const extra = await post(JSON.stringify({ objective: 'x', surprise: true }));
    expect(extra.status).toBe(400);
    const hook = await post(JSON.stringify({ objective: 'x', webhookUrl: 'ftp://example.com' }));
    expect(hook.status).toBe(400);
  });

  it('requires a key, and the operator role to submit, cancel or decide', async () => {
    const anonymous = await h.server.fetch('/api/swarms', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ objective: 'x' }),
    });
    expect(anonymous.status).toBe(401);
    const viewer = (await (
      await h.server.fetch('/api/keys', {
        method: 'POST',
        key: h.server.adminKey,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'watcher', role: 'viewer' }),
      })
    ).json()) as { key: string };
    expect((await post(JSON.stringify({ objective: 'x' }), viewer.key)).status).toBe(403);
    const list = await h.server.fetch('/api/swarms?limit=2', { key: viewer.key });
    expect(list.status).toBe(200);
    const page = (await list.json()) as { items: unknown[]; nextCursor: string | null };
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toBeTruthy();
    const next = (await (
      await h.server.fetch(`/api/swarms?limit=2&cursor=${page.nextCursor}`, { key: viewer.key })
    ).json()) as { items: Array<{ id: string }> };
    expect(next.items).toHaveLength(2);
    expect(next.items[0]!.id).not.toBe((page.items[0] as { id: string }).id);
    const someId = next.items[0]!.id;
    expect(
      (await h.server.fetch(`/api/swarms/${someId}/cancel`, { method: 'POST', key: viewer.key }))
        .status,
    ).toBe(403);
  });

  it('answers unknown swarms with 404, a finished swarm with 409, and a bad Last-Event-ID with 400', async () => {
    const k = h.server.adminKey;
    expect((await h.server.fetch('/api/swarms/not-a-uuid', { key: k })).status).toBe(404);
    expect(
      (await h.server.fetch('/api/swarms/00000000-0000-4000-8000-000000000000', { key: k })).status,
    ).toBe(404);
    const list = (await (
      await h.server.fetch('/api/swarms?status=completed&limit=1', { key: k })
    ).json()) as { items: Array<{ id: string }> };
    const done = list.items[0]!.id;
    const cancel = await h.server.fetch(`/api/swarms/${done}/cancel`, { method: 'POST', key: k });
    expect(cancel.status).toBe(409);
    expect(((await cancel.json()) as { error: { code: string } }).error.code).toBe('CONFLICT');
    const decide = await h.server.fetch(`/api/swarms/${done}/decision`, {
      method: 'POST',
      key: k,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'PROCEED' }),
    });
    expect(decide.status).toBe(409);
    expect(
      (
        await h.server.fetch(`/api/swarms/${done}/events`, {
          key: k,
          headers: { 'last-event-id': 'abc' },
        })
      ).status,
    ).toBe(400);
    expect((await h.server.fetch('/api/swarms?status=nope', { key: k })).status).toBe(400);
  });
});
