// The built `cfn` executable driving swarms on a real service (in-process, against the loopback
// fake LLM): run and follow to the end, exit codes, NDJSON, list/show, human decisions, agents,
// Ctrl-C, and the messages for a bad key or a service that is not there.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type CliResult } from '../support/cli.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import {
  agentOf,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';

let h: SwarmHarness;
let url: string;
let env: Record<string, string>;

beforeAll(async () => {
  h = await startSwarmHarness();
  url = h.server.url;
  env = { CFN_API_KEY: h.server.adminKey, LOG_LEVEL: 'warn' };
});
afterAll(async () => {
  await h?.stop();
});

const cfn = (args: string[], extraEnv: Record<string, string> = {}) =>
  runCli([...args, '--url', url], { env: { ...env, ...extraEnv } });

/** The swarm id `cfn run` printed. */
function idOf(r: CliResult): string {
  const id = /Submitted swarm ([0-9a-f-]{36})/.exec(r.stdout + r.stderr)?.[1];
  if (!id) throw new Error(`no swarm id in output\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return id;
}

/** Reads the swarm's event stream until an event of `type` arrives (bounded by `timeoutMs`). */
async function waitForEvent(id: string, type: string, timeoutMs = 20_000): Promise<number> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await h.server.fetch(`/api/swarms/${id}/events`, {
      key: h.server.adminKey,
      signal: ac.signal,
    });
    let seq: number | undefined;
    const parser = createParser({
      onEvent(m) {
        if (m.event === type) seq ??= Number(m.id);
      },
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    while (seq === undefined) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the stream of ${id} ended without ${type}`);
      parser.feed(value);
    }
    await reader.cancel();
    return seq;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

const passing = () =>
  h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));

describe('cfn run', () => {
  let completedId = '';

  it('follows a swarm to completion, shows its progress and exits 0 with a summary', async () => {
    passing();
    const r = await cfn([
      'run',
      'Write a greeting module',
      '--agent',
      'impl-a',
      '--validator',
      'val-a',
      '--mode',
      'mvp',
    ]);
    expect(r.code, r.stderr).toBe(0);
    completedId = idOf(r);
    expect(r.stdout).toContain('Iteration 1/5 started');
    expect(r.stdout).toContain('✓ impl-a (implement) confidence 0.90: implemented');
    expect(r.stdout).toContain('✓ val-a (validate) score 0.95: looks fine');
    expect(r.stdout).toMatch(/Gate passed: mean confidence 0\.90 ≥ 0\.70/);
    expect(r.stdout).toMatch(/Consensus reached: mean score 0\.95 ≥ 0\.80/);
    expect(r.stdout).toMatch(/Decision: PROCEED/);
    expect(r.stdout).toMatch(/Status:\s+completed \(decision PROCEED\)/);
    expect(r.stdout).toMatch(/Iterations:\s+1/);
    expect(r.stdout).toMatch(/Tokens:\s+[\d,]+ \([\d,]+ in \/ [\d,]+ out\)/);
    expect(r.stdout).toMatch(/Cost:\s+\$\d/);
    expect(r.stdout).toMatch(/Elapsed:\s+\d+s/);
    // Not a terminal: no status line redrawn in place.
    expect(r.stdout).not.toContain('\x1b[2K');
  });

  it('exits 2 and says what to do next when the swarm runs out of iterations', async () => {
    h.llm.setResponder((req) =>
      agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.3, 'missing tests'),
    );
    const r = await cfn([
      'run',
      'Write a parser',
      '--agent',
      'impl-a',
      '--validator',
      'val-a',
      '--max-iterations',
      '1',
    ]);
    const id = idOf(r);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toMatch(/Consensus not reached: mean score 0\.30 < 0\.90/);
    expect(r.stdout).toMatch(/Status:\s+exhausted/);
    expect(r.stderr).toContain(`cfn swarms show ${id}`);
  });

  it('--json prints parseable NDJSON ending with swarm.completed', async () => {
    passing();
    const r = await cfn([
      'run',
      'Write a greeting module',
      '--agent',
      'impl-a',
      '--validator',
      'val-a',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { swarmId: string; seq: number; type: string; status?: string });
    const id = idOf(r);
    expect(events[0]).toMatchObject({ swarmId: id, seq: 1, type: 'swarm.created' });
    expect(events.at(-1)).toMatchObject({ type: 'swarm.completed', status: 'completed' });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));

    // Resuming after an event replays only what came later.
    const resumed = await cfn(['swarms', 'follow', id, '--after', '3', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const seqs = resumed.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs).toEqual(events.slice(3).map((e) => e.seq));
  });

  it('--no-follow prints the id and exits at once; list and show then contain the swarm', async () => {
    passing();
    const r = await cfn([
      'run',
      'List me please',
      '--agent',
      'impl-a',
      '--validator',
      'val-a',
      '--no-follow',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const id = idOf(r);
    expect(r.stdout).toContain(`cfn swarms follow ${id}`);
    await waitForEvent(id, 'swarm.completed');

    const list = await cfn(['swarms', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(
      /^ID\s+STATUS\s+STRATEGY\s+MODE\s+ITER\s+DECISION\s+COST\s+CREATED/m,
    );
    expect(list.stdout).toMatch(
      new RegExp(`^${id}\\s+completed\\s+cfn-loop\\s+standard\\s+1\\s+PROCEED`, 'm'),
    );
    expect(list.stdout).toContain('List me please');
    expect(list.stdout).toContain(completedId);

    const page = await cfn(['swarms', 'list', '--limit', '1', '--status', 'completed']);
    expect(page.stdout).toContain(id);
    expect(page.stdout).toMatch(/More: cfn swarms list --status completed --limit 1 --cursor \S+/);

    const show = await cfn(['swarms', 'show', id]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`Swarm ${id}`);
    expect(show.stdout).toMatch(/Status:\s+completed \(decision PROCEED\)/);
    expect(show.stdout).toMatch(/Gate:\s+passed \(0\.90 vs 0\.75\)/);
    expect(show.stdout).toMatch(/Consensus:\s+passed \(0\.95 vs 0\.90\)/);
    expect(show.stdout).toMatch(/implement\s+impl-a\s+succeeded\s+\$[\d.]+\s+confidence 0\.90/);
    expect(show.stdout).toMatch(/validate\s+val-a\s+succeeded\s+\$[\d.]+\s+score 0\.95/);

    const json = await cfn(['swarms', 'show', id, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ id, status: 'completed', decision: 'PROCEED' });
  });
});

describe('human decisions', () => {
  it('decide resumes a swarm waiting for a human, and follow then exits 0', async () => {
    passing();
    const r = await cfn([
      'run',
      'Needs sign-off',
      '--agent',
      'impl-a',
      '--validator',
      'val-a',
      '--approval',
      'human',
      '--no-follow',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const id = idOf(r);
    await waitForEvent(id, 'decision.requested');
    expect((await h.get(id)).status).toBe('awaiting_decision');

    const shown = await cfn(['swarms', 'show', id]);
    expect(shown.stdout).toContain(`awaiting yours: cfn swarms decide ${id} PROCEED|ITERATE|ABORT`);

    const decided = await cfn(['swarms', 'decide', id, 'proceed', '--feedback', 'ship it']);
    expect(decided.code, decided.stderr).toBe(0);
    expect(decided.stdout).toContain(`Decision PROCEED recorded for swarm ${id}`);

    const followed = await cfn(['swarms', 'follow', id]);
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toContain(`cfn swarms decide ${id} PROCEED|ITERATE|ABORT`);
    expect(followed.stdout).toMatch(/Decision: PROCEED \(by human\)/);
    expect(followed.stdout).toMatch(/Status:\s+completed \(decision PROCEED\)/);
  });

  it('rejects a decision that is not PROCEED, ITERATE or ABORT', async () => {
    const r = await cfn(['swarms', 'decide', '00000000-0000-4000-8000-000000000000', 'MAYBE']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/expected one of PROCEED, ITERATE, ABORT/);
  });
});

describe('Ctrl-C while following', () => {
  it('cancels the swarm, waits for it to stop and exits 130', async () => {
    h.llm.setResponder(() => ({ hang: true }));
    const r = spawnCli(
      ['run', 'Hang forever', '--agent', 'impl-a', '--validator', 'val-a', '--json', '--url', url],
      { env },
    );
    try {
      const started = await r.waitForLog((l) => l.type === 'task.started', 20_000);
      r.child.kill('SIGINT');
      expect(await r.exited).toEqual({ code: 130, signal: null });
      const id = String(started.swarmId);
      expect(r.stderr()).toContain(`cancelling swarm ${id}`);
      expect(r.stderr()).toContain(`cfn swarms show ${id}`);
      expect(r.stdout().trim().split('\n').at(-1)).toMatch(/"type":"swarm.completed".*"cancelled"/);
      expect((await h.get(id)).status).toBe('cancelled');
    } finally {
      if (r.child.exitCode === null) r.child.kill('SIGKILL');
    }
  });
});

describe('a dropped event stream', () => {
  it('reconnects with Last-Event-ID and shows every event exactly once', async () => {
    passing();
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(url).port));
    const r = spawnCli(
      [
        'run',
        'Survive a network blip',
        '--agent',
        'impl-a',
        '--validator',
        'val-a',
        '--approval',
        'human',
        '--json',
        '--url',
        `http://127.0.0.1:${proxy.port}`,
      ],
      { env },
    );
    try {
      // The swarm waits for a human here, so nothing is missed while the connection is down.
      const waiting = await r.waitForLog((l) => l.type === 'decision.requested', 20_000);
      await proxy.cut();
      await proxy.restore();
      const res = await h.server.fetch(`/api/swarms/${String(waiting.swarmId)}/decision`, {
        method: 'POST',
        key: h.server.adminKey,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'PROCEED' }),
      });
      expect(res.status).toBe(200);
      expect(await r.exited).toEqual({ code: 0, signal: null });
      const seqs = r
        .stdout()
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(r.stderr()).toMatch(
        new RegExp(`Event stream interrupted .*reconnecting after event ${String(waiting.seq)}`),
      );
    } finally {
      if (r.child.exitCode === null) r.child.kill('SIGKILL');
      await proxy.close();
    }
  });
});

describe('a lost submission answer', () => {
  it('cfn run sends the submission again with the same Idempotency-Key, and one swarm is made', async () => {
    // A loopback proxy that passes the first POST /api/swarms on, lets the service answer, and
    // then drops the connection before the answer reaches the client (a lost 202).
    const keys: string[] = [];
    const proxy = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'connection'),
      ) as Record<string, string>;
      const upstream = await fetch(url + req.url, {
        method: req.method,
        headers,
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
      });
      const text = await upstream.text();
      if (req.method === 'POST' && req.url === '/api/swarms') {
        keys.push(String(req.headers['idempotency-key']));
        if (keys.length === 1) {
          req.socket.destroy();
          return;
        }
      }
      res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const objective = `lost answer ${Date.now()}`;
      const r = await runCli(
        [
          'run',
          objective,
          '--agent',
          'impl-a',
          '--no-follow',
          '--json',
          '--url',
          `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        ],
        { env },
      );
      expect(r.code, r.stderr).toBe(0);
      const printed = JSON.parse(r.stdout) as { id: string };
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(keys[1]).toBe(keys[0]);
      const page = (await (
        await h.server.fetch('/api/swarms?limit=200', { key: h.server.adminKey })
      ).json()) as { items: Array<{ id: string; objective: string }> };
      expect(page.items.filter((i) => i.objective === objective).map((i) => i.id)).toEqual([
        printed.id,
      ]);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

describe('cfn agents', () => {
  it('lists the agents in a table, filters by role, and shows one with its prompt', async () => {
    const list = await cfn(['agents', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+ROLE\s+PROVIDER\s+MODEL\s+SOURCE\s+DESCRIPTION/m);
    for (const name of ['impl-a', 'impl-b', 'val-a', 'po-agent', 'coord-agent'])
      expect(list.stdout).toMatch(new RegExp(`^${name}\\s`, 'm'));
    expect(list.stdout).toMatch(/^val-a\s+validator\s/m);

    const validators = await cfn(['agents', 'list', '--role', 'validator', '--json']);
    const names = (JSON.parse(validators.stdout) as Array<{ name: string }>).map((a) => a.name);
    expect(names).toContain('val-a');
    expect(names).not.toContain('impl-a');

    const show = await cfn(['agents', 'show', 'po-agent']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^role:\s+product-owner$/m);
    expect(show.stdout).toContain('--- system prompt ---\nAGENT=po-agent.');

    const missing = await cfn(['agents', 'show', 'nobody']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND/);
  });
});

describe('errors', () => {
  it('a bad key exits 1 and says how to pass a good one', async () => {
    const r = await cfn(['swarms', 'list'], { CFN_API_KEY: 'cfn_not_a_real_key_000000000000' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/UNAUTHORI[SZ]ED|401/);
    expect(r.stderr).toMatch(/--key or CFN_API_KEY/);

    const follow = await cfn(['swarms', 'follow', '00000000-0000-4000-8000-000000000000'], {
      CFN_API_KEY: 'cfn_not_a_real_key_000000000000',
    });
    expect(follow.code).toBe(1);
    expect(follow.stderr).toMatch(/--key or CFN_API_KEY/);
  });

  it('an unreachable service exits 1 and says to start it', async () => {
    const r = await runCli(['swarms', 'list', '--url', 'http://127.0.0.1:9'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot reach http:\/\/127\.0\.0\.1:9 .*cfn start/);
  });

  it('every swarm and agent command documents itself with an example', async () => {
    const commands = [
      ['run'],
      ['swarms'],
      ['swarms', 'list'],
      ['swarms', 'show'],
      ['swarms', 'follow'],
      ['swarms', 'cancel'],
      ['swarms', 'decide'],
      ['agents'],
      ['agents', 'list'],
      ['agents', 'show'],
    ];
    const results = await Promise.all(commands.map((cmd) => runCli([...cmd, '--help'])));
    results.forEach((r, i) => {
      const name = commands[i]!.join(' ');
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toMatch(/Examples?:\n\s+\$ cfn /);
    });
  }, 60_000);
});
