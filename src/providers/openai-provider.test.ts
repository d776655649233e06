// The OpenAI-compatible adapter against the fake server speaking Chat Completions: the shared
// provider contract, plus what is specific to the Chat Completions wire format.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  API_KEY,
  httpProviderContract,
  request,
} from '../../test/support/contracts/provider.contract.js';
import { startFakeLlm, type FakeLlm } from '../../test/support/fake-llm.js';
import { createOpenAiProvider, type OpenAiProviderOptions } from './openai-provider.js';

httpProviderContract('openai', {
  format: 'openai',
  baseUrl: (url) => `${url}/v1`,
  create: ({ baseUrl, apiKey, maxRetries }) =>
    createOpenAiProvider({ name: 'test', apiKey, baseUrl, defaultModel: 'gpt-test', maxRetries }),
});

describe('openai wire format', () => {
  let fake: FakeLlm;
  beforeAll(async () => {
    fake = await startFakeLlm({ apiKey: API_KEY });
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const provider = (over: Partial<OpenAiProviderOptions> = {}) =>
    createOpenAiProvider({
      name: 'openai',
      apiKey: API_KEY,
      baseUrl: `${fake.url}/v1`,
      defaultModel: 'gpt-test',
      maxRetries: 0,
      ...over,
    });

  it('sends a Bearer key, the system message first, max_tokens and temperature', async () => {
    await provider().complete(request({ maxTokens: 123, temperature: 0.5 }));
    const [seen] = fake.requests;
    expect(seen?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(seen?.body).toMatchObject({
      model: 'gpt-test',
      max_tokens: 123,
      temperature: 0.5,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Say hi' },
      ],
    });
  });

  it('uses max_completion_tokens when told to (OpenAI itself)', async () => {
    await provider({ tokenLimitParam: 'max_completion_tokens' }).complete(
      request({ maxTokens: 77 }),
    );
    const body = fake.requests[0]?.body as Record<string, unknown>;
    expect(body.max_completion_tokens).toBe(77);
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('asks for usage in streams', async () => {
    await provider().complete(request({ onText: () => undefined }));
    expect(fake.requests[0]?.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('sends tools as functions and marks failed tool results in the text', async () => {
    await provider().complete(
      request({
        tools: [{ name: 'read', description: 'read a file', inputSchema: { type: 'object' } }],
        messages: [
          { role: 'user', content: 'read a' },
          {
            role: 'assistant',
            content: '',
            toolCalls: [{ id: 'c1', name: 'read', input: { p: 'a' } }],
          },
          { role: 'tool', toolCallId: 'c1', name: 'read', content: 'no such file', isError: true },
        ],
      }),
    );
    const body = fake.requests[0]?.body as { tools: unknown; messages: unknown[] };
    expect(body.tools).toEqual([
      {
        type: 'function',
        function: { name: 'read', description: 'read a file', parameters: { type: 'object' } },
      },
    ]);
    expect(body.messages.slice(1)).toEqual([
      { role: 'user', content: 'read a' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'read', arguments: '{"p":"a"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ERROR: no such file' },
    ]);
  });

  it('estimates usage when a compatible server reports none', async () => {
    fake.setResponder(() => ({
      raw: JSON.stringify({
        id: 'x',
        object: 'chat.completion',
        created: 1,
        model: 'local-model',
        choices: [
          { index: 0, message: { role: 'assistant', content: 'four' }, finish_reason: 'stop' },
        ],
      }),
    }));
    const result = await provider().complete(request());
    expect(result).toMatchObject({ text: 'four', model: 'local-model', stopReason: 'stop' });
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBe(1);
  });
});
