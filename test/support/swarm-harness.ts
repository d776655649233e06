// Whole swarms over HTTP: the real service (in-process) against the loopback fake LLM, with a
// small agent library whose system prompts name each agent so a test can script every role.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startFakeLlm,
  type FakeLlm,
  type FakeReply,
  type FakeRequest,
  type FakeResponder,
} from './fake-llm.js';
import { expect } from 'vitest';
import { startTestServer, type TestServer, type TestServerOptions } from './test-server.js';

export const TEST_AGENTS: Record<string, { role: string; provider?: string }> = {
  'impl-a': { role: 'implementer' },
  'impl-b': { role: 'implementer' },
  'val-a': { role: 'validator' },
  'val-b': { role: 'validator' },
  'po-agent': { role: 'product-owner' },
  'coord-agent': { role: 'coordinator' },
};

/** Which test agent a request was made for (its system prompt says so). */
export function agentOf(req: FakeRequest): string {
  return req.system.match(/AGENT=([a-z0-9-]+)/)?.[1] ?? 'unknown';
}

export function writeAgents(
  dir: string,
  extra: Record<
    string,
    { role: string; provider?: string; tools?: string; maxTokens?: number }
  > = {},
) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, a] of Object.entries({ ...TEST_AGENTS, ...extra })) {
    const lines = ['---', `name: ${name}`, `description: test agent ${name}`, `role: ${a.role}`];
    if (a.provider) lines.push(`provider: ${a.provider}`);
    if ('tools' in a && a.tools) lines.push(`tools: ${a.tools}`);
    if ('maxTokens' in a && a.maxTokens) lines.push(`maxTokens: ${a.maxTokens}`);
    lines.push('---', `AGENT=${name}. Follow the output contract.`);
    fs.writeFileSync(path.join(dir, `${name}.md`), lines.join('\n') + '\n');
  }
}

export const implementer = (confidence: number, summary = 'implemented'): FakeReply => ({
  text: `Done.\n{"confidence": ${confidence}, "summary": "${summary}"}`,
});
export const validator = (score: number, feedback = 'looks fine'): FakeReply => ({
  text: `Review.\n{"score": ${score}, "approve": ${score >= 0.9}, "feedback": "${feedback}"}`,
});
/** Scripted implementer and validator answers; a request whose messages hold `marker` hangs. */
export function hangingOn(marker: string): FakeResponder {
  return (req) =>
    req.messages.some((m) => m.content.includes(marker))
      ? { hang: true }
      : agentOf(req) === 'val-a'
        ? validator(0.95)
        : implementer(0.9);
}

export const decision = (d: 'PROCEED' | 'ITERATE' | 'ABORT', rationale = 'because'): FakeReply => ({
  text: `{"decision": "${d}", "rationale": "${rationale}"}`,
});

/** impl-a is confident and every validator approves: a CFN Loop passes in one iteration. */
export const passingAgents = (req: FakeRequest): FakeReply =>
  agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95);

export interface SwarmHarness {
  llm: FakeLlm;
  server: TestServer;
  dir: string;
  submit(
    body: Record<string, unknown>,
  ): Promise<{ id: string; status: number; body: Record<string, unknown> }>;
  /** Follows the SSE stream until swarm.completed; returns the events received. */
  follow(
    id: string,
    lastEventId?: number,
  ): Promise<Array<{ id: number; event: string; data: Record<string, unknown> }>>;
  /** Reads the live event stream until an event of `type` arrives. */
  waitForEvent(
    id: string,
    type: string,
    timeoutMs?: number,
  ): Promise<{ id: number; event: string; data: Record<string, unknown> }>;
  get(
    id: string,
  ): Promise<
    Record<string, unknown> & { status: string; iterations: Array<Record<string, unknown>> }
  >;
  stop(): Promise<void>;
}

export async function startSwarmHarness(
  env: Record<string, string> = {},
  extraAgents = {},
  options: TestServerOptions = {},
): Promise<SwarmHarness> {
  const llm = await startFakeLlm();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-swarm-'));
  writeAgents(path.join(dir, 'agents'), extraAgents);
  const server = await startTestServer(
    {
      ANTHROPIC_API_KEY: 'test-key',
      ANTHROPIC_BASE_URL: llm.url,
      CFN_LLM_MAX_RETRIES: '2',
      CFN_AGENTS_DIR: path.join(dir, 'agents'),
      CFN_WORKSPACE_ROOTS: path.join(dir, 'workspaces'),
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    options,
  );
  const h: SwarmHarness = {
    llm,
    server,
    dir,
    async submit(body) {
      const res = await server.fetch('/api/swarms', {
        method: 'POST',
        key: server.adminKey,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      return { id: String(json.id), status: res.status, body: json };
    },
    async follow(id, lastEventId) {
      const res = await server.fetch(`/api/swarms/${id}/events`, {
        key: server.adminKey,
        headers: lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) },
      });
      if (res.status !== 200) throw new Error(`events: HTTP ${res.status}: ${await res.text()}`);
      return parseSse(await res.text());
    },
    async waitForEvent(id, type, timeoutMs = 20_000) {
      const res = await server.fetch(`/api/swarms/${id}/events`, {
        key: server.adminKey,
        signal: AbortSignal.timeout(timeoutMs),
      });
      return readUntilEvent(res, type);
    },
    async get(id) {
      const res = await server.fetch(`/api/swarms/${id}`, { key: server.adminKey });
      return (await res.json()) as Awaited<ReturnType<SwarmHarness['get']>>;
    },
    async stop() {
      await server.stop();
      await llm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Reads a live event stream until an event of `type` arrives, then closes it. */
export async function readUntilEvent(
  res: Response,
  type: string,
): Promise<{ id: number; event: string; data: Record<string, unknown> }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended without a ${type} event`);
      buffer += decoder.decode(value, { stream: true });
      const hit = parseSse(buffer).find((e) => e.event === type);
      if (hit) return hit;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

export function parseSse(text: string) {
  const out: Array<{ id: number; event: string; data: Record<string, unknown> }> = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n');
    const id = lines.find((l) => l.startsWith('id: '))?.slice(4);
    const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
    const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
    if (id && event && data)
      out.push({ id: Number(id), event, data: JSON.parse(data) as Record<string, unknown> });
  }
  return out;
}

/**
 * The interrupted-swarm scenario (impl-a and impl-b answer, val-a's first call is cut off by a
 * crash or a stop): its event log ends completed with gapless seqs, no completed call was made
 * twice, and the cut-off validator call was made once more and completed.
 */
export function expectResumedWithoutRepeats(
  llm: FakeLlm,
  received: ReturnType<typeof parseSse>,
): void {
  expect(received.at(-1)).toMatchObject({
    event: 'swarm.completed',
    data: { status: 'completed' },
  });
  // Seqs are gapless and unique: nothing was lost or written twice by the two processes.
  expect(received.map((e) => e.id)).toEqual(received.map((_, i) => i + 1));
  const completed = llm.requests.filter((r) => r.completed);
  const keys = completed.map((r) => r.callKey);
  expect(new Set(keys).size).toBe(keys.length);
  expect(completed.filter((r) => agentOf(r) !== 'val-a')).toHaveLength(2);
  expect(llm.requests.filter((r) => agentOf(r) === 'val-a').map((r) => r.completed)).toEqual([
    false,
    true,
  ]);
}
