// Provider configuration validation and the registry built from it; each kind is built and
// exercised for real (the HTTP kinds against the fake LLM server, the CLI kind with node -e).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../../test/support/fake-llm.js';
import { captureLogs } from '../../test/support/log-capture.js';
import { ValidationError } from '../domain/errors.js';
import { createLogger } from '../observability/logger.js';
import { DEFAULT_MODELS, createProviderRegistry, parseProviderConfigs } from './registry.js';

const request = () => ({
  system: '',
  messages: [{ role: 'user' as const, content: 'ping' }],
  maxTokens: 10,
  signal: new AbortController().signal,
  timeoutMs: 5_000,
});

function validationIssues(raw: unknown): Array<{ path: string; message: string }> {
  try {
    parseProviderConfigs(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return ((err as ValidationError).details?.issues ?? []) as Array<{
      path: string;
      message: string;
    }>;
  }
  throw new Error('expected a validation error');
}

describe('parseProviderConfigs', () => {
  it('accepts the three kinds', () => {
    const configs = parseProviderConfigs([
      { name: 'anthropic', kind: 'anthropic', apiKey: 'sk-ant', maxRetries: 3 },
      {
        name: 'ollama',
        kind: 'openai',
        baseUrl: 'http://localhost:11434/v1',
        defaultModel: 'qwen3',
      },
      { name: 'claude-code', kind: 'cli', command: ['claude', '-p', '--output-format', 'json'] },
    ]);
    expect(configs.map((c) => c.kind)).toEqual(['anthropic', 'openai', 'cli']);
  });

  it.each<[string, unknown, string]>([
    ['an unknown kind', [{ name: 'x', kind: 'gemini', apiKey: 'k' }], 'providers.0.kind'],
    ['a missing Anthropic key', [{ name: 'x', kind: 'anthropic' }], 'providers.0.apiKey'],
    ['OpenAI without key or baseUrl', [{ name: 'x', kind: 'openai' }], 'providers.0.apiKey'],
    [
      'a custom baseUrl without a model',
      [{ name: 'x', kind: 'openai', baseUrl: 'http://localhost:8000/v1' }],
      'providers.0.defaultModel',
    ],
    ['an empty command', [{ name: 'x', kind: 'cli', command: [] }], 'providers.0.command'],
    [
      'a typo in a field',
      [{ name: 'x', kind: 'anthropic', apiKey: 'k', maxRetry: 1 }],
      'providers.0',
    ],
    [
      'a bad URL',
      [{ name: 'x', kind: 'anthropic', apiKey: 'k', baseUrl: 'nope' }],
      'providers.0.baseUrl',
    ],
    ['a bad name', [{ name: 'has space', kind: 'cli', command: ['x'] }], 'providers.0.name'],
    [
      'a duplicate name',
      [
        { name: 'x', kind: 'cli', command: ['a'] },
        { name: 'x', kind: 'cli', command: ['b'] },
      ],
      'providers.1.name',
    ],
    ['not a list', { name: 'x' }, 'providers'],
  ])('rejects %s, naming the field', (_label, raw, path) => {
    expect(validationIssues(raw).map((issue) => issue.path)).toContain(path);
  });
});

describe('createProviderRegistry', () => {
  let fake: FakeLlm;
  beforeAll(async () => {
    fake = await startFakeLlm({ apiKey: 'sk-registry' });
  });
  afterAll(async () => {
    await fake.close();
  });

  const configs = () =>
    parseProviderConfigs([
      { name: 'claude', kind: 'anthropic', apiKey: 'sk-registry', baseUrl: fake.url },
      {
        name: 'local',
        kind: 'openai',
        apiKey: 'sk-registry',
        baseUrl: `${fake.url}/v1`,
        defaultModel: 'llama-test',
      },
      {
        name: 'script',
        kind: 'cli',
        command: [process.execPath, '-e', 'process.stdout.write("from the cli")'],
      },
    ]);

  it('builds each configured provider, the first one being the default', async () => {
    const registry = await createProviderRegistry(configs());
    expect(registry.defaultName).toBe('claude');
    expect(registry.list().map((p) => [p.name, p.kind, p.defaultModel])).toEqual([
      ['claude', 'anthropic', DEFAULT_MODELS.anthropic],
      ['local', 'openai', 'llama-test'],
      ['script', 'cli', DEFAULT_MODELS.cli],
    ]);
    expect(registry.get().name).toBe('claude');

    fake.reset();
    expect((await registry.get('claude').complete(request())).text).toBe('echo: ping');
    expect((await registry.get('local').complete(request())).text).toBe('echo: ping');
    expect(fake.requests.map((r) => [r.format, r.model])).toEqual([
      ['anthropic', DEFAULT_MODELS.anthropic],
      ['openai', 'llama-test'],
    ]);
    expect((await registry.get('script').complete(request())).text).toBe('from the cli');
  });

  it('uses the named default provider', async () => {
    const registry = await createProviderRegistry(configs(), 'local');
    expect(registry.get().name).toBe('local');
    expect(registry.has('script')).toBe(true);
    expect(registry.has('gemini')).toBe(false);
  });

  it('names the configured providers when asked for an unknown one', async () => {
    const registry = await createProviderRegistry(configs());
    expect(() => registry.get('gemini')).toThrow(
      'unknown LLM provider "gemini"; configured: claude, local, script',
    );
    await expect(createProviderRegistry(configs(), 'gemini')).rejects.toThrow(ValidationError);
  });

  it('reports that nothing is configured', async () => {
    const registry = await createProviderRegistry([]);
    expect(registry.defaultName).toBeUndefined();
    expect(registry.list()).toEqual([]);
    expect(() => registry.get()).toThrow('no LLM provider is configured');
  });
});

describe('call log lines', () => {
  let fake: FakeLlm;
  beforeAll(async () => {
    fake = await startFakeLlm({ apiKey: 'sk-call-log-secret' });
  });
  afterAll(async () => {
    await fake.close();
  });

  const callKey = 'swarm-1/task-2/llm/0';
  const prompt = 'the prompt that must never be logged';
  const call = (registry: Awaited<ReturnType<typeof createProviderRegistry>>, name: string) =>
    registry.get(name).complete({
      ...request(),
      maxTokens: 200,
      messages: [{ role: 'user' as const, content: prompt }],
      headers: { 'x-request-id': 'req-42', 'x-cfn-call-key': callKey },
    });

  async function setup() {
    const logs = captureLogs();
    const logger = createLogger({ level: 'debug', version: 'test', destination: logs.stream });
    const registry = await createProviderRegistry(
      [
        {
          name: 'claude',
          kind: 'anthropic',
          apiKey: 'sk-call-log-secret',
          baseUrl: fake.url,
          maxRetries: 2,
        },
        {
          name: 'local',
          kind: 'openai',
          apiKey: 'sk-call-log-secret',
          baseUrl: `${fake.url}/v1`,
          defaultModel: 'llama-test',
          maxRetries: 0,
        },
        { name: 'script', kind: 'cli', command: [process.execPath, '-e', 'process.exit(3)'] },
      ],
      undefined,
      { logger },
    );
    const lines = async (msg: string) => {
      // pino writes asynchronously: wait for the line with a bounded timeout.
      for (let i = 0; i < 100 && !logs.text().includes(`"msg":"${msg}"`); i++)
        await new Promise((r) => setImmediate(r));
      return logs.lines().filter((l) => l.msg === msg);
    };
    return { logs, registry, lines };
  }

  it('logs each answered call at debug with model, tokens, duration and the journal key', async () => {
    fake.reset();
    const { logs, registry, lines } = await setup();
    await call(registry, 'claude');
    const [line] = await lines('llm call');
    expect(line).toMatchObject({
      level: 'debug',
      provider: 'claude',
      providerKind: 'anthropic',
      model: DEFAULT_MODELS.anthropic,
      callKey,
      requestId: 'req-42',
      attempts: 1,
      stopReason: 'end_turn',
    });
    expect(line!.inputTokens).toBeGreaterThan(0);
    expect(line!.outputTokens).toBeGreaterThan(0);
    expect(typeof line!.durationMs).toBe('number');
    expect(logs.text()).not.toContain(prompt);
    expect(logs.text()).not.toContain('sk-call-log-secret');
  });

  it('logs each failed call at warn with the HTTP status, kind and attempts (500s from the provider)', async () => {
    fake.reset();
    fake.setResponder(() => ({ status: 500, message: 'upstream exploded' }));
    try {
      const { logs, registry, lines } = await setup();
      await expect(call(registry, 'claude')).rejects.toMatchObject({ kind: 'server' });
      await expect(call(registry, 'local')).rejects.toMatchObject({ kind: 'server' });
      // Three attempts (two retries) of one call, one attempt of the other: one line per call.
      expect(fake.requests).toHaveLength(4);
      const failed = await lines('llm call failed');
      expect(failed).toHaveLength(2);
      expect(failed[0]).toMatchObject({
        level: 'warn',
        provider: 'claude',
        model: DEFAULT_MODELS.anthropic,
        status: 500,
        errorKind: 'server',
        attempts: 3,
        callKey,
        requestId: 'req-42',
      });
      expect(failed[0]!.error).toContain('upstream exploded');
      expect(failed[1]).toMatchObject({ provider: 'local', status: 500, attempts: 1, callKey });
      expect(logs.lines().filter((l) => l.msg === 'llm call')).toEqual([]);
      expect(logs.text()).not.toContain(prompt);
      expect(logs.text()).not.toContain('sk-call-log-secret');
    } finally {
      fake.reset();
    }
  });

  it('logs a failed CLI call with its error kind and no status', async () => {
    const { registry, lines } = await setup();
    await expect(call(registry, 'script')).rejects.toMatchObject({ kind: 'process' });
    const [line] = await lines('llm call failed');
    expect(line).toMatchObject({ provider: 'script', errorKind: 'process', callKey });
    expect(line).not.toHaveProperty('status');
  });

  it('logs a call we abort at info, not as a failure', async () => {
    fake.reset();
    fake.setResponder(() => ({ hang: true }));
    try {
      const { registry, lines } = await setup();
      const controller = new AbortController();
      const pending = registry.get('claude').complete({
        ...request(),
        signal: controller.signal,
        headers: { 'x-cfn-call-key': callKey },
      });
      await fake.waitForRequests(1);
      controller.abort();
      await expect(pending).rejects.toMatchObject({ kind: 'aborted' });
      const [line] = await lines('llm call aborted');
      expect(line).toMatchObject({ level: 'info', errorKind: 'aborted', callKey });
      expect(await lines('llm call failed')).toEqual([]);
    } finally {
      fake.reset();
    }
  });
});
