// A `cfn start` process SIGKILLed in the middle of a swarm: after a restart on the same data the
// swarm completes, and the fake LLM's log shows that no completed call was made twice.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, expect, it } from 'vitest';
import { openDatabase, queryRows } from '../../src/adapters/db/database.js';
import { createLogger } from '../../src/observability/logger.js';
import { spawnCli, type RunningCli } from '../support/cli.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import {
  agentOf,
  expectResumedWithoutRepeats,
  implementer,
  parseSse,
  validator,
  writeAgents,
} from '../support/swarm-harness.js';

const KEY = 'cfn_crash_test_bootstrap_key_0123456789';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-crash-'));
const children: RunningCli[] = [];
let llm: FakeLlm | undefined;

afterAll(async () => {
  for (const c of children)
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await llm?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>) {
  const child = spawnCli(['start'], { cwd: dir, env });
  children.push(child);
  const listening = await child.waitForLog((l) => l.msg === 'listening');
  return { proc: child, url: String(listening.url) };
}

it('resumes a swarm after SIGKILL without repeating a completed LLM call', async () => {
  llm = await startFakeLlm();
  writeAgents(path.join(dir, 'agents'));
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    CFN_DATA_DIR: path.join(dir, 'data'),
    CFN_AGENTS_DIR: path.join(dir, 'agents'),
    CFN_BOOTSTRAP_ADMIN_KEY: KEY,
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: llm.url,
  };
  // Two implementers answer at once; the validator's first call hangs: the process dies with
  // two completed (journaled) calls and one call in flight.
  let validatorCalls = 0;
  llm.setResponder((req) => {
    if (agentOf(req) === 'val-a') return ++validatorCalls === 1 ? { hang: true } : validator(0.95);
    return implementer(0.9);
  });

  const first = await start(env);
  const res = await fetch(`${first.url}/api/swarms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      objective: 'survive a crash',
      agents: ['impl-a', 'impl-b'],
      validators: ['val-a'],
      budget: { maxTokens: 1_000_000 },
    }),
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  await llm.waitUntil((rs) => rs.some((r) => agentOf(r) === 'val-a'), 30_000);
  first.proc.child.kill('SIGKILL');
  expect(await first.proc.exited).toEqual({ code: null, signal: 'SIGKILL' });

  const second = await start(env);
  expect(await second.proc.waitForLog((l) => l.msg === 'resuming unfinished swarms')).toMatchObject(
    { swarms: 1 },
  );
  const events = await fetch(`${second.url}/api/swarms/${id}/events`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  // The validator call in flight at the crash was made again (it had not completed), once; no
  // completed call twice.
  expectResumedWithoutRepeats(llm, parseSse(await events.text()));

  second.proc.child.kill('SIGTERM');
  expect(await second.proc.exited).toEqual({ code: 0, signal: null });

  // The reservation of the call in flight at the crash did not leak into the budget.
  const db = await openDatabase({
    dataDir: env.CFN_DATA_DIR,
    logger: createLogger({ level: 'silent', version: 'test' }),
  });
  try {
    const [row] = await queryRows<{ reserved_tokens: string; input_tokens: string }>(
      db.db,
      sql`select reserved_tokens, input_tokens from swarms where id = ${id}`,
    );
    expect(Number(row!.reserved_tokens)).toBe(0);
    expect(Number(row!.input_tokens)).toBeGreaterThan(0);
  } finally {
    await db.close();
  }
});
