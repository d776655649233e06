// The Anthropic adapter against the fake server speaking the Messages API: the shared provider
// contract, plus what is specific to Anthropic's wire format.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  API_KEY,
  httpProviderContract,
  request,
} from '../../test/support/contracts/provider.contract.js';
import { startFakeLlm, type FakeLlm } from '../../test/support/fake-llm.js';
import { createAnthropicProvider } from './anthropic-provider.js';

httpProviderContract('anthropic', {
  format: 'anthropic',
  baseUrl: (url) => url,
  create: ({ baseUrl, apiKey, maxRetries }) =>
    createAnthropicProvider({
      name: 'test',
      apiKey,
      baseUrl,
      defaultModel: 'claude-test',
      maxRetries,
    }),
});

describe('anthropic wire format', () => {
  let fake: FakeLlm;
  beforeAll(async () => {
    fake = await startFakeLlm({ apiKey: API_KEY });
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const provider = () =>
    createAnthropicProvider({
      name: 'anthropic',
      apiKey: API_KEY,
      baseUrl: fake.url,
      defaultModel: 'claude-test',
      maxRetries: 0,
    });

  it('counts the input tokens of a request with the API, as its answer will report them', async () => {
    const ask = {
      system: 'You review code.',
      messages: [{ role: 'user' as const, content: '検証してください: the parser' }],
      tools: [{ name: 'read_file', description: 'Read a file', inputSchema: { type: 'object' } }],
      signal: new AbortController().signal,
      headers: { 'x-cfn-call-key': 's/t/llm/0' },
    };
    const counted = await provider().countInputTokens!(ask);
    expect(fake.requests).toEqual([]); // no completion
    expect(fake.tokenCounts).toEqual([{ callKey: 's/t/llm/0', inputTokens: counted }]);
    const answer = await provider().complete({ ...ask, maxTokens: 100, timeoutMs: 5000 });
    expect(answer.usage.inputTokens).toBe(counted);
  });

  it('sends the key, API version, system, max_tokens and temperature as the API expects', async () => {
    await provider().complete(request({ maxTokens: 321, temperature: 0.2 }));
    const [seen] = fake.requests;
    // SDK 1.x sends the key as a Bearer token; older versions used x-api-key.
    expect(seen?.headers['x-api-key'] ?? seen?.headers.authorization).toMatch(API_KEY);
    expect(seen?.headers['anthropic-version']).toBeTruthy();
    expect(seen?.body).toMatchObject({
      model: 'claude-test',
      max_tokens: 321,
      temperature: 0.2,
      system: 'You are terse.',
    });
  });

  it('omits an empty system prompt', async () => {
    await provider().complete(request({ system: '' }));
    expect(fake.requests[0]?.body).not.toHaveProperty('system');
  });

  it('puts all tool results for one turn into a single user message, with is_error', async () => {
    await provider().complete(
      request({
        messages: [
          { role: 'user', content: 'do two things' },
          {
            role: 'assistant',
            content: '',
            toolCalls: [
              { id: 't1', name: 'read', input: { path: 'a' } },
              { id: 't2', name: 'read', input: { path: 'b' } },
            ],
          },
          { role: 'tool', toolCallId: 't1', name: 'read', content: 'A' },
          { role: 'tool', toolCallId: 't2', name: 'read', content: 'no such file', isError: true },
          { role: 'user', content: 'and now?' },
        ],
      }),
    );
    const body = fake.requests[0]?.body as { messages: unknown[] };
    expect(body.messages).toEqual([
      { role: 'user', content: 'do two things' },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 't1', name: 'read', input: { path: 'a' } },
          { type: 'tool_use', id: 't2', name: 'read', input: { path: 'b' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: 'A' },
          { type: 'tool_result', tool_use_id: 't2', content: 'no such file', is_error: true },
          { type: 'text', text: 'and now?' },
        ],
      },
    ]);
  });

  it('sends tool schemas as input_schema objects', async () => {
    await provider().complete(
      request({
        tools: [{ name: 'noop', description: 'does nothing', inputSchema: { properties: {} } }],
      }),
    );
    expect((fake.requests[0]?.body as { tools: unknown }).tools).toEqual([
      {
        name: 'noop',
        description: 'does nothing',
        input_schema: { properties: {}, type: 'object' },
      },
    ]);
  });

  it('maps an overloaded server (529) to server', async () => {
    fake.setResponder(() => ({ status: 529 }));
    await expect(provider().complete(request())).rejects.toMatchObject({
      kind: 'server',
      details: { status: 529 },
    });
  });

  it('maps an error event inside a stream by its error type', async () => {
    fake.setResponder(() => ({
      raw:
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"x","content":[],"stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n' +
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    }));
    await expect(provider().complete(request({ onText: () => undefined }))).rejects.toMatchObject({
      kind: 'server',
      message: expect.stringContaining('Overloaded'),
    });
  });
});
