// CFN_SANDBOX: `bwrap` stops start-up when the sandbox does not work; `auto` without a working
// sandbox starts, says so in /health and refuses commands (a tool error, a failed validator);
// `off` runs them unconfined, with a warning. A missing bwrap: CFN_SANDBOX_BWRAP=/nonexistent.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load-config.js';
import {
  agentOf,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';
import { startTestServer } from '../support/test-server.js';

type Task = { command: string | null; status: string; reason: string | null; attempt: number };

async function health(h: SwarmHarness) {
  const res = await h.server.fetch('/health');
  const ready = await h.server.fetch('/health/ready');
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, ready };
}

describe('CFN_SANDBOX=bwrap', () => {
  it('stops start-up naming CFN_SANDBOX when bwrap is missing (more cases: sandbox-runtime.test.ts)', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-sandbox-required-'));
    try {
      const err = await startTestServer(
        { CFN_SANDBOX: 'bwrap', CFN_SANDBOX_BWRAP: '/nonexistent/bwrap' },
        { dataDir },
      ).then(
        () => new Error('started'),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe('CFN_SANDBOX');
      expect((err as Error).message).toBe(
        'Invalid environment variable CFN_SANDBOX: is bwrap but the sandbox does not work: ' +
          '/nonexistent/bwrap (CFN_SANDBOX_BWRAP) is not an executable file',
      );
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('CFN_SANDBOX=auto without a working sandbox', () => {
  let h: SwarmHarness;
  beforeAll(async () => {
    h = await startSwarmHarness({ CFN_SANDBOX_BWRAP: '/nonexistent/bwrap' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('starts and serves, and /health says commands are unavailable and why, still ready', async () => {
    const { status, body, ready } = await health(h);
    expect(status).toBe(200);
    expect(ready.status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', sandbox: { status: 'unavailable' } });
    expect((body.sandbox as { detail: string }).detail).toMatch(
      /not an executable file.*install bubblewrap.*CFN_SANDBOX=off/,
    );
    expect(
      h.server.logs
        .lines()
        .some(
          (l) => l.level === 'warn' && String(l.msg).includes('command validators are refused'),
        ),
    ).toBe(true);
  });

  it('answers run_command with a tool error, and fails a command validator for good, saying why', async () => {
    h.llm.setResponder((req) => {
      if (agentOf(req) !== 'impl-a') return validator(0.95);
      if (req.messages.at(-1)!.role === 'tool') return implementer(0.9, 'wrote it');
      return {
        text: 'Trying.',
        toolCalls: [
          { name: 'run_command', input: { command: 'ls' } },
          { name: 'write_file', input: { path: 'a.txt', content: 'a' } },
        ],
      };
    });
    const s = await h.submit({
      objective: 'refused commands',
      agents: ['impl-a'],
      validators: [{ command: 'true' }],
      workspace: 'refused',
      maxIterations: 1,
    });
    expect(s.status).toBe(202);
    const events = await h.follow(s.id);
    const toolCalled = events.find(
      (e) => e.event === 'tool.called' && e.data.tool === 'run_command',
    );
    expect(toolCalled?.data).toMatchObject({ ok: false });
    const toolResults = h.llm.requests
      .flatMap((r) => r.messages)
      .filter((m) => m.role === 'tool')
      .map((m) => m.content)
      .join('\n');
    expect(toolResults).toMatch(
      /Commands are unavailable: commands are refused: no working sandbox/,
    );
    const swarm = await h.get(s.id);
    const commandTasks = swarm.iterations
      .flatMap((it) => it.tasks as Task[])
      .filter((t) => t.command);
    expect(commandTasks).toHaveLength(1); // not retryable: no second attempt
    expect(commandTasks[0]).toMatchObject({ status: 'failed', attempt: 1 });
    expect(commandTasks[0]!.reason).toMatch(/commands are refused: no working sandbox/);
  });
});

describe('CFN_SANDBOX=off', () => {
  let h: SwarmHarness;
  beforeAll(async () => {
    h = await startSwarmHarness({ CFN_SANDBOX: 'off' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('warns at start, says "disabled" in /health, and runs commands unconfined with a HOME of its own', async () => {
    const { status, body } = await health(h);
    expect(status).toBe(200);
    expect(body.sandbox).toMatchObject({ status: 'disabled' });
    expect(
      h.server.logs
        .lines()
        .some((l) => l.level === 'warn' && String(l.msg).startsWith('CFN_SANDBOX=off')),
    ).toBe(true);
    const marker = path.join(os.tmpdir(), `cfn-unconfined-${randomBytes(6).toString('hex')}`);
    h.llm.setResponder((req) =>
      agentOf(req) !== 'impl-a'
        ? validator(0.95)
        : req.messages.at(-1)!.role === 'tool'
          ? implementer(0.9)
          : { text: 'w', toolCalls: [{ name: 'write_file', input: { path: 'a', content: 'a' } }] },
    );
    const home = path.join(h.server.dataDir, 'home');
    const s = await h.submit({
      objective: 'unconfined',
      agents: ['impl-a'],
      validators: [{ command: `test "$HOME" = ${home} && test -d "$HOME" && touch ${marker}` }],
      workspace: 'unconfined',
      maxIterations: 1,
    });
    await h.follow(s.id);
    try {
      expect(await h.get(s.id)).toMatchObject({ status: 'completed' });
      expect(fs.existsSync(marker)).toBe(true); // the host's /tmp: no sandbox
    } finally {
      fs.rmSync(marker, { force: true });
    }
  });
});
