// The HTTP provider contract: one suite that every SDK-backed provider adapter runs against the
// fake LLM server (answers, streaming, tools, retries, failure kinds, cancellation, headers).
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ProviderError,
  type CompletionRequest,
  type Provider,
  type ProviderErrorKind,
} from '../../../src/ports/provider.js';
import { startFakeLlm, type FakeLlm, type FakeRequest } from '../fake-llm.js';

export interface HttpProviderFixture {
  /** The wire format the adapter speaks. */
  format: 'anthropic' | 'openai';
  /** The adapter's baseUrl for a server at `url` (OpenAI clients expect the /v1 prefix). */
  baseUrl(url: string): string;
  create(options: { baseUrl: string; apiKey: string; maxRetries: number }): Provider;
}

export const API_KEY = 'sk-test-key';

export function request(over: Partial<CompletionRequest> = {}): CompletionRequest {
  return {
    system: 'You are terse.',
    messages: [{ role: 'user', content: 'Say hi' }],
    maxTokens: 256,
    signal: new AbortController().signal,
    timeoutMs: 10_000,
    ...over,
  };
}

/** The ProviderError a call rejects with (fails the test if it resolves or throws another type). */
export async function failure(call: Promise<unknown>): Promise<ProviderError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected the call to fail');
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Resolves with the next request to arrive at the fake server. */
function nextRequest(fake: FakeLlm): Promise<FakeRequest> {
  return new Promise((resolve) => {
    const off = fake.onRequest((req) => {
      off();
      resolve(req);
    });
  });
}

export function httpProviderContract(label: string, fixture: HttpProviderFixture): void {
  describe(`provider contract: ${label}`, () => {
    let fake: FakeLlm;
    let provider: Provider;
    const make = (maxRetries: number) =>
      fixture.create({ baseUrl: fixture.baseUrl(fake.url), apiKey: API_KEY, maxRetries });

    beforeAll(async () => {
      fake = await startFakeLlm({ apiKey: API_KEY });
    });
    afterAll(async () => {
      await fake.close();
    });
    beforeEach(() => {
      fake.reset();
      provider = make(2);
    });

    it('returns a text answer with the usage and model the server reported', async () => {
      fake.setResponder(() => ({ text: 'Hi.', usage: { inputTokens: 21, outputTokens: 4 } }));
      const result = await provider.complete(request({ model: 'model-a' }));
      expect(result).toEqual({
        text: 'Hi.',
        toolCalls: [],
        usage: { inputTokens: 21, outputTokens: 4 },
        model: 'model-a',
        stopReason: expect.any(String),
        attempts: 1,
      });
      const [seen] = fake.requests;
      expect(seen).toMatchObject({
        format: fixture.format,
        model: 'model-a',
        system: 'You are terse.',
        messages: [{ role: 'user', content: 'Say hi' }],
        stream: false,
      });
    });

    it('uses the default model when the request names none', async () => {
      const result = await provider.complete(request());
      expect(result.model).toBe(provider.defaultModel);
      expect(fake.requests[0]?.model).toBe(provider.defaultModel);
    });

    it('streams text deltas to onText; they join to the final text', async () => {
      const answer = 'The quick brown fox jumps over the lazy dog.';
      fake.setResponder(() => ({ text: answer, usage: { inputTokens: 30, outputTokens: 11 } }));
      const deltas: string[] = [];
      const result = await provider.complete(request({ onText: (d) => deltas.push(d) }));
      expect(deltas.length).toBeGreaterThan(1);
      expect(deltas.join('')).toBe(answer);
      expect(result).toMatchObject({
        text: answer,
        usage: { inputTokens: 30, outputTokens: 11 },
        attempts: 1,
      });
      expect(fake.requests[0]).toMatchObject({ stream: true, includeUsage: true, completed: true });
    });

    it('round-trips a tool call: tool call -> tool result -> final text', async () => {
      fake.setResponder((req) => {
        const last = req.messages.at(-1);
        if (last?.role === 'tool') return { text: `It is ${last.content} in Oslo.` };
        return { text: 'Checking.', toolCalls: [{ name: 'weather', input: { city: 'Oslo' } }] };
      });
      const tools = [
        {
          name: 'weather',
          description: 'Current weather for a city',
          inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ];
      const first = await provider.complete(request({ tools }));
      expect(first.toolCalls).toEqual([
        { id: expect.any(String), name: 'weather', input: { city: 'Oslo' } },
      ]);
      expect(first.text).toBe('Checking.');
      const call = first.toolCalls[0]!;

      const second = await provider.complete(
        request({
          tools,
          messages: [
            { role: 'user', content: 'Weather in Oslo?' },
            { role: 'assistant', content: first.text, toolCalls: first.toolCalls },
            { role: 'tool', toolCallId: call.id, name: 'weather', content: 'rainy' },
          ],
        }),
      );
      expect(second).toMatchObject({ text: 'It is rainy in Oslo.', toolCalls: [] });
      const seen = fake.requests[1];
      expect(seen?.tools).toEqual([
        {
          name: 'weather',
          description: 'Current weather for a city',
          inputSchema: expect.objectContaining({ type: 'object' }),
        },
      ]);
      expect(seen?.messages).toEqual([
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: 'Checking.', toolCalls: [call] },
        { role: 'tool', toolCallId: call.id, content: 'rainy' },
      ]);
    });

    it('reassembles streamed tool input fragments', async () => {
      fake.setResponder(() => ({
        toolCalls: [
          { name: 'write_file', input: { path: 'a/b.txt', content: 'line one\nline two' } },
          { name: 'list_files', input: {} },
        ],
      }));
      const result = await provider.complete(request({ onText: () => undefined }));
      expect(result.toolCalls.map(({ name, input }) => ({ name, input }))).toEqual([
        { name: 'write_file', input: { path: 'a/b.txt', content: 'line one\nline two' } },
        { name: 'list_files', input: {} },
      ]);
    });

    it('waits out Retry-After on 429 and then succeeds (2 attempts)', async () => {
      let calls = 0;
      fake.setResponder(() =>
        ++calls === 1 ? { status: 429, retryAfterSeconds: 1 } : { text: 'after the wait' },
      );
      const started = Date.now();
      const result = await provider.complete(request());
      expect(result).toMatchObject({ text: 'after the wait', attempts: 2 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
    });

    it('retries a 500 and then succeeds (2 attempts)', async () => {
      let calls = 0;
      fake.setResponder(() => (++calls === 1 ? { status: 500 } : { text: 'recovered' }));
      const result = await provider.complete(request({ onText: () => undefined }));
      expect(result).toMatchObject({ text: 'recovered', attempts: 2 });
    });

    it('reports rate_limited once retries are used up', async () => {
      fake.setResponder(() => ({ status: 429 }));
      const err = await failure(make(0).complete(request()));
      expect(err.kind).toBe('rate_limited');
      expect(err.details).toMatchObject({ status: 429, attempts: 1, provider: 'test' });
    });

    it.each<[number, ProviderErrorKind]>([
      [401, 'auth'],
      [403, 'auth'],
      [400, 'bad_request'],
      [404, 'bad_request'],
    ])('fails fast on %i as %s (one attempt)', async (status, kind) => {
      fake.setResponder(() => ({ status: status as 400, message: `refused with ${status}` }));
      const err = await failure(provider.complete(request()));
      expect(err.kind).toBe(kind);
      expect(err.details).toMatchObject({ status, attempts: 1 });
      expect(err.message).toContain(`refused with ${status}`);
      expect(fake.requests).toHaveLength(1);
    });

    it('fails with auth when the server rejects the API key', async () => {
      const wrongKey = fixture.create({
        baseUrl: fixture.baseUrl(fake.url),
        apiKey: 'sk-wrong',
        maxRetries: 2,
      });
      const err = await failure(wrongKey.complete(request()));
      expect(err).toMatchObject({ kind: 'auth', details: { status: 401, attempts: 1 } });
    });

    it('aborts a call in flight: the server sees the client leave, the call rejects quickly', async () => {
      fake.setResponder(() => ({ hang: true }));
      const controller = new AbortController();
      const arrived = nextRequest(fake);
      const call = provider.complete(request({ signal: controller.signal }));
      const seen = await arrived;
      const abortedAt = Date.now();
      controller.abort();
      const err = await failure(call);
      expect(err.kind).toBe('aborted');
      expect(Date.now() - abortedAt).toBeLessThan(2_000);
      await fake.waitUntil(() => seen.clientClosed, 2_000);
      expect(seen).toMatchObject({ completed: false, clientClosed: true });
    });

    it('aborts a stream mid-answer', async () => {
      fake.setResponder(() => ({ text: 'one two three four five six', chunkDelayMs: 150 }));
      const controller = new AbortController();
      const deltas: string[] = [];
      const err = await failure(
        provider.complete(
          request({
            signal: controller.signal,
            onText: (delta) => {
              deltas.push(delta);
              controller.abort();
            },
          }),
        ),
      );
      expect(err.kind).toBe('aborted');
      expect(deltas).toHaveLength(1);
      const [seen] = await fake.waitUntil((all) => (all[0]?.clientClosed ? all : undefined));
      expect(seen?.completed).toBe(false);
    });

    it('does not call the server when the signal is already aborted', async () => {
      const controller = new AbortController();
      controller.abort();
      const err = await failure(provider.complete(request({ signal: controller.signal })));
      expect(err.kind).toBe('aborted');
      expect(fake.requests).toHaveLength(0);
    });

    it('times out a hanging server with kind timeout and closes the connection', async () => {
      fake.setResponder(() => ({ hang: true }));
      const started = Date.now();
      const err = await failure(provider.complete(request({ timeoutMs: 300 })));
      expect(err.kind).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(2_000);
      await fake.waitUntil((all) => all.length > 0 && all.every((r) => r.clientClosed));
    });

    it('times out a stream that stalls after it started', async () => {
      fake.setResponder(() => ({ text: 'slow slow slow slow', chunkDelayMs: 5_000 }));
      const err = await failure(provider.complete(request({ timeoutMs: 400, onText: () => {} })));
      expect(err.kind).toBe('timeout');
    });

    it('reports a malformed JSON body as invalid_response', async () => {
      fake.setResponder(() => ({ raw: '{"id": "x", "content": [', status: 200 }));
      const err = await failure(provider.complete(request()));
      expect(err.kind).toBe('invalid_response');
    });

    it('reports well-formed JSON of the wrong shape as invalid_response', async () => {
      fake.setResponder(() => ({ raw: '{"hello": "world"}', status: 200 }));
      const err = await failure(provider.complete(request()));
      expect(err.kind).toBe('invalid_response');
    });

    it('reports a malformed stream as invalid_response', async () => {
      fake.setResponder(() => ({ raw: 'event: message_start\ndata: {not json\n\n', status: 200 }));
      const err = await failure(provider.complete(request({ onText: () => undefined })));
      expect(err.kind).toBe('invalid_response');
    });

    it('reports a stream cut off before its end as invalid_response', async () => {
      const partial =
        fixture.format === 'anthropic'
          ? 'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"x","content":[],"stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
          : 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"x","choices":[{"index":0,"delta":{"content":"half"},"finish_reason":null}]}\n\n';
      fake.setResponder(() => ({ raw: partial, status: 200 }));
      const err = await failure(provider.complete(request({ onText: () => undefined })));
      expect(err.kind).toBe('invalid_response');
    });

    it('reports a refused connection as network', async () => {
      const port = await closedPort();
      const offline = fixture.create({
        baseUrl: fixture.baseUrl(`http://127.0.0.1:${port}`),
        apiKey: API_KEY,
        maxRetries: 0,
      });
      const err = await failure(offline.complete(request()));
      expect(err).toMatchObject({ kind: 'network', details: { attempts: 1 } });
    });

    it('sends the request headers (request id, call key) to the server', async () => {
      await provider.complete(
        request({ headers: { 'X-Request-Id': 'req-42', 'X-CFN-Call-Key': 'swarm-1:t-3:a-1' } }),
      );
      expect(fake.requests[0]).toMatchObject({ requestId: 'req-42', callKey: 'swarm-1:t-3:a-1' });
      // The header that counts attempts inside the process never leaves it.
      expect(Object.keys(fake.requests[0]!.headers).filter((h) => h.startsWith('x-cfn-'))).toEqual([
        'x-cfn-call-key',
      ]);
    });
  });
}
