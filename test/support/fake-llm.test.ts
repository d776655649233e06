// The fake LLM server against plain HTTP: both wire formats, streaming, errors, the request log,
// hangs ended by the client, and the standalone process used by crash tests and benchmarks.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseRules, startFakeLlm, type FakeLlm, type FakeRequest } from './fake-llm.js';

let fake: FakeLlm;

beforeAll(async () => {
  fake = await startFakeLlm({ apiKey: 'test-key' });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

const anthropicHeaders = {
  'content-type': 'application/json',
  'x-api-key': 'test-key',
  'anthropic-version': '2023-06-01',
};
const openAiHeaders = { 'content-type': 'application/json', authorization: 'Bearer test-key' };

function postAnthropic(body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${fake.url}/v1/messages`, {
    method: 'POST',
    headers: { ...anthropicHeaders, ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

function postOpenAi(body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${fake.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...openAiHeaders, ...headers },
    body: JSON.stringify(body),
  });
}

/** The parts of an OpenAI chat.completion these tests read. */
interface Completion {
  choices: Array<{ message: { content: string | null }; finish_reason: string }>;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

async function completion(res: Response | Promise<Response>): Promise<Completion> {
  return (await (await res).json()) as Completion;
}

/** Parses an SSE body into its events (name and JSON data, or the raw data line). */
function sseEvents(text: string): Array<{ event: string | undefined; data: string }> {
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      const lines = frame.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6) ?? '';
      return { event, data };
    });
}

const simpleAnthropic = {
  model: 'claude-test',
  max_tokens: 100,
  system: 'be brief',
  messages: [{ role: 'user', content: 'hello there' }],
};

describe('Anthropic Messages format', () => {
  it('answers a non-streaming request with a message and logs it', async () => {
    fake.setResponder(() => ({ text: 'Hi!', usage: { inputTokens: 12, outputTokens: 3 } }));
    const res = await postAnthropic(simpleAnthropic, {
      'x-request-id': 'req-1',
      'x-cfn-call-key': 'swarm-1/task-2',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toMatch(/^req_fake_/);
    const body = await res.json();
    expect(body).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      content: [{ type: 'text', text: 'Hi!' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 12, output_tokens: 3 },
    });
    const [entry] = await fake.waitUntil((all) => (all[0]?.completed ? all : undefined));
    expect(entry).toMatchObject({
      format: 'anthropic',
      model: 'claude-test',
      system: 'be brief',
      messages: [{ role: 'user', content: 'hello there' }],
      stream: false,
      requestId: 'req-1',
      callKey: 'swarm-1/task-2',
      reply: 'text',
      status: 200,
      completed: true,
      clientClosed: false,
    });
    expect(entry?.headers['x-api-key']).toBe('test-key');
  });

  it('streams text deltas and tool input fragments as SSE events', async () => {
    fake.setResponder(() => ({
      text: 'Let me check the weather.',
      toolCalls: [{ id: 'toolu_1', name: 'weather', input: { city: 'Paris', days: 3 } }],
    }));
    const res = await postAnthropic({ ...simpleAnthropic, stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = sseEvents(await res.text());
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('message_start');
    expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
    const payloads = events.map((e) => JSON.parse(e.data) as Record<string, unknown>);
    const textDeltas = payloads
      .filter((p) => p.type === 'content_block_delta')
      .map((p) => p.delta as { type: string; text?: string; partial_json?: string });
    const text = textDeltas.filter((d) => d.type === 'text_delta').map((d) => d.text);
    expect(text.length).toBeGreaterThan(1);
    expect(text.join('')).toBe('Let me check the weather.');
    const json = textDeltas.filter((d) => d.type === 'input_json_delta').map((d) => d.partial_json);
    expect(JSON.parse(json.join(''))).toEqual({ city: 'Paris', days: 3 });
    const toolStart = payloads.find(
      (p) =>
        p.type === 'content_block_start' &&
        (p.content_block as { type: string }).type === 'tool_use',
    );
    expect(toolStart).toMatchObject({
      index: 1,
      content_block: { type: 'tool_use', id: 'toolu_1', name: 'weather' },
    });
    expect(payloads.find((p) => p.type === 'message_delta')).toMatchObject({
      delta: { stop_reason: 'tool_use' },
      usage: { output_tokens: expect.any(Number) },
    });
  });

  it('normalises tool_use and tool_result blocks into neutral messages', async () => {
    await postAnthropic({
      ...simpleAnthropic,
      tools: [{ name: 'weather', description: 'Weather', input_schema: { type: 'object' } }],
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } }],
        },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'rain' }],
        },
      ],
    });
    const [entry] = await fake.waitForRequests(1);
    expect(entry?.tools).toEqual([
      { name: 'weather', description: 'Weather', inputSchema: { type: 'object' } },
    ]);
    expect(entry?.messages).toEqual([
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } }],
      },
      { role: 'tool', toolCallId: 'toolu_1', content: 'rain' },
    ]);
  });

  it('sends the real error bodies, with Retry-After on 429', async () => {
    fake.setResponder(() => ({ status: 429, retryAfterSeconds: 7 }));
    const limited = await postAnthropic(simpleAnthropic);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(await limited.json()).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error', message: expect.any(String) },
    });

    fake.setResponder(() => ({ status: 400, message: 'messages: too short' }));
    const bad = await postAnthropic(simpleAnthropic);
    expect(await bad.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'messages: too short' },
    });

    const unauthenticated = await postAnthropic(simpleAnthropic, { 'x-api-key': 'wrong' });
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({
      error: { type: 'authentication_error' },
    });
    expect(fake.requests.map((r) => [r.reply, r.status])).toEqual([
      ['rate_limited', 429],
      ['client_error', 400],
      ['client_error', 401],
    ]);
  });

  it('rejects a request without anthropic-version or max_tokens like the real API', async () => {
    const noVersion = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'test-key' },
      body: JSON.stringify(simpleAnthropic),
    });
    expect(noVersion.status).toBe(400);
    const noMax = await postAnthropic({ ...simpleAnthropic, max_tokens: undefined });
    expect(noMax.status).toBe(400);
    expect(await noMax.json()).toMatchObject({ error: { message: 'max_tokens: Field required' } });
  });
});

describe('OpenAI Chat Completions format', () => {
  const simpleOpenAi = {
    model: 'gpt-test',
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hello there' },
    ],
  };

  it('answers a non-streaming request with a chat.completion', async () => {
    const res = await postOpenAi(simpleOpenAi);
    expect(res.status).toBe(200);
    const body = await completion(res);
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-test',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'echo: hello there' },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) },
    });
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(fake.requests[0]).toMatchObject({ format: 'openai', system: 'be brief' });
  });

  it('returns tool calls as function calls with JSON arguments', async () => {
    fake.setResponder(() => ({ toolCalls: [{ name: 'weather', input: { city: 'Rome' } }] }));
    const body = await completion(postOpenAi(simpleOpenAi));
    expect(body.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        content: null,
        tool_calls: [
          {
            id: expect.stringMatching(/^call_/),
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Rome"}' },
          },
        ],
      },
    });
  });

  it('streams chunks, a usage chunk when asked, and [DONE]', async () => {
    fake.setResponder(() => ({ text: 'streamed answer here' }));
    const res = await postOpenAi({
      ...simpleOpenAi,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = sseEvents(await res.text());
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('streamed answer here');
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThan(1);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe('stop');
    const usage = chunks.at(-1);
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toMatchObject({ prompt_tokens: expect.any(Number) });
  });

  it('omits the usage chunk without stream_options.include_usage', async () => {
    const res = await postOpenAi({ ...simpleOpenAi, stream: true });
    const chunks = sseEvents(await res.text())
      .slice(0, -1)
      .map((e) => JSON.parse(e.data));
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it('sends OpenAI error bodies', async () => {
    fake.setResponder(() => ({ status: 503 }));
    const res = await postOpenAi(simpleOpenAi);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      error: { message: expect.any(String), type: 'server_error', code: null },
    });
    const unauthenticated = await postOpenAi(simpleOpenAi, { authorization: 'Bearer nope' });
    expect(await unauthenticated.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
  });

  it('normalises assistant tool_calls and tool messages', async () => {
    await postOpenAi({
      model: 'gpt-test',
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"a":1}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      ],
    });
    const [entry] = await fake.waitForRequests(1);
    expect(entry?.messages).toEqual([
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'c1', name: 'weather', input: { a: 1 } }],
      },
      { role: 'tool', toolCallId: 'c1', content: 'sunny' },
    ]);
  });
});

describe('scripted failures and the log', () => {
  it('hangs until the client disconnects, then records clientClosed', async () => {
    fake.setResponder(() => ({ hang: true }));
    const controller = new AbortController();
    const arrived = new Promise<FakeRequest>((resolve) => {
      const off = fake.onRequest((req) => {
        off();
        resolve(req);
      });
    });
    const pending = postAnthropic(simpleAnthropic, {}, controller.signal);
    const req = await arrived;
    await fake.waitUntil(() => req.reply === 'hang');
    controller.abort();
    await expect(pending).rejects.toThrow();
    const closed = await fake.waitUntil(() => (req.clientClosed ? req : undefined));
    expect(closed).toMatchObject({ reply: 'hang', completed: false, clientClosed: true });
  });

  it('records clientClosed when the client leaves mid-stream', async () => {
    fake.setResponder(() => ({ text: 'a fairly long answer in pieces', chunkDelayMs: 200 }));
    const controller = new AbortController();
    const res = await postAnthropic({ ...simpleAnthropic, stream: true }, {}, controller.signal);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const [entry] = await fake.waitUntil((all) => (all[0]?.clientClosed ? all : undefined));
    expect(entry).toMatchObject({ completed: false, clientClosed: true });
  });

  it('sends a raw malformed body as it is', async () => {
    fake.setResponder(() => ({ raw: '{"type":"message", "content": [', status: 200 }));
    const res = await postAnthropic(simpleAnthropic);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"type":"message", "content": [');
    expect(fake.requests[0]).toMatchObject({ reply: 'raw', completed: false });
  });

  it('waits for a reply delay and lets an async responder decide', async () => {
    fake.setResponder(async (req) => ({ text: `late ${req.id}`, delayMs: 50 }));
    const started = Date.now();
    const body = (await (await postAnthropic(simpleAnthropic)).json()) as {
      content: Array<{ text: string }>;
    };
    expect(body.content[0]?.text).toBe('late 1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('waitForRequests resolves with the first n requests and times out clearly', async () => {
    const waiting = fake.waitForRequests(2, 2_000);
    await postOpenAi({ model: 'm', messages: [{ role: 'user', content: 'one' }] });
    await postOpenAi({ model: 'm', messages: [{ role: 'user', content: 'two' }] });
    const requests = await waiting;
    expect(requests.map((r) => r.messages[0]?.content)).toEqual(['one', 'two']);
    await expect(fake.waitForRequests(5, 50)).rejects.toThrow(/not met within 50 ms/);
  });
});

describe('standalone process', () => {
  const main = fileURLToPath(new URL('./fake-llm-main.mjs', import.meta.url));
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fake-llm-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints its URL, answers by rules and serves the log at /_log', async () => {
    const rules = join(dir, 'rules.json');
    await writeFile(
      rules,
      JSON.stringify([
        { match: 'validator', reply: { text: '{"score":0.95,"approve":true}' } },
        { match: 'please fail', reply: { status: 500 } },
      ]),
    );
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, FAKE_LLM_PORT: '0', FAKE_LLM_RULES: rules },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const { url } = JSON.parse(line) as { url: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const ask = (system: string, content: string) =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'm',
            messages: [
              { role: 'system', content: system },
              { role: 'user', content },
            ],
          }),
        });
      const ruled = await completion(ask('You are a validator.', 'review this'));
      expect(ruled.choices[0]?.message.content).toBe('{"score":0.95,"approve":true}');
      expect((await ask('', 'please fail now')).status).toBe(500);
      const echoed = await completion(ask('', 'anything else'));
      expect(echoed.choices[0]?.message.content).toBe('echo: anything else');

      const log = (await (await fetch(`${url}/_log`)).json()) as FakeRequest[];
      expect(log.map((r) => [r.reply, r.status])).toEqual([
        ['text', 200],
        ['server_error', 500],
        ['text', 200],
      ]);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('rejects a malformed rules document with the offending index', () => {
    expect(() => parseRules([{ match: 'x', reply: { text: 'ok' } }, { match: 1 }])).toThrow(
      /rules\[1\]/,
    );
    expect(() => parseRules({})).toThrow(/JSON array/);
  });
});
