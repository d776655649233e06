// Provider adapter for OpenAI Chat Completions and the servers that speak it (Ollama, vLLM,
// OpenRouter, LM Studio…) through the official SDK: same contract as the Anthropic adapter,
// with tools as functions and tool results as role 'tool' messages.

import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  OpenAIError,
} from 'openai';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { Logger } from '../ports/logger.js';
import {
  ProviderError,
  type ChatMessage,
  type CompletionRequest,
  type CompletionResult,
  type Provider,
  type ToolCall,
  type ToolSpec,
} from '../ports/provider.js';
import { cutShortError, startCallDeadline, type CallDeadline } from './call-deadline.js';
import { estimateTokens } from './estimate-tokens.js';
import { kindForStatus } from './http-status-kind.js';
import { createAttemptCounter, defaultProviderFetch } from './provider-fetch.js';
import { createSdkLogger } from './sdk-logger.js';

export interface OpenAiProviderOptions {
  name: string;
  /** Local servers accept any value; OpenAI itself requires a real key. */
  apiKey: string;
  /** Default https://api.openai.com/v1; e.g. http://localhost:11434/v1 for Ollama. */
  baseUrl?: string | undefined;
  defaultModel: string;
  /** Retries after the first attempt, for 408/409/429/5xx and connection failures. */
  maxRetries: number;
  /**
   * Name of the output limit field: OpenAI's current models accept only max_completion_tokens,
   * while many compatible servers know only max_tokens. Default: the former for OpenAI itself
   * (no baseUrl), the latter otherwise.
   */
  tokenLimitParam?: 'max_tokens' | 'max_completion_tokens' | undefined;
  logger?: Logger | undefined;
  /** Replaces the global fetch (a proxy agent, say); every call through it is one attempt. */
  fetch?: typeof globalThis.fetch | undefined;
}

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export function createOpenAiProvider(options: OpenAiProviderOptions): Provider {
  const { name, defaultModel, maxRetries } = options;
  const counter = createAttemptCounter(options.fetch ?? defaultProviderFetch());
  const tokenLimitParam =
    options.tokenLimitParam ??
    (options.baseUrl === undefined ? 'max_completion_tokens' : 'max_tokens');
  const client = new OpenAI({
    apiKey: options.apiKey,
    // Explicit values, so the SDK's own OPENAI_* environment lookups never override configuration.
    baseURL: options.baseUrl ?? DEFAULT_BASE_URL,
    organization: null,
    project: null,
    maxRetries,
    fetch: counter.fetch,
    logger: createSdkLogger(options.logger?.child({ provider: name })),
    logLevel: options.logger ? 'warn' : 'off',
  });

  return {
    name,
    kind: 'openai',
    defaultModel,
    supportsTools: true,
    async complete(request: CompletionRequest): Promise<CompletionResult> {
      const model = request.model ?? defaultModel;
      const deadline = startCallDeadline(request.signal, request.timeoutMs);
      const call = counter.begin();
      try {
        const params = toParams(request, model, tokenLimitParam);
        const requestOptions = {
          signal: deadline.signal,
          timeout: request.timeoutMs,
          headers: { ...request.headers, ...call.headers },
        };
        if (request.onText) {
          const stream = await client.chat.completions.create(
            { ...params, stream: true, stream_options: { include_usage: true } },
            requestOptions,
          );
          const result = await collectStream(stream, request, model, deadline, name);
          return { ...result, attempts: call.attempts() };
        }
        const completion = await client.chat.completions.create(
          { ...params, stream: false },
          requestOptions,
        );
        return { ...fromCompletion(completion, request, model, name), attempts: call.attempts() };
      } catch (err) {
        throw toProviderError(err, name, call.attempts(), deadline, request.timeoutMs);
      } finally {
        deadline.dispose();
        call.end();
      }
    },
  };
}

type CompletionParams = Omit<ChatCompletionCreateParamsNonStreaming, 'stream'>;

function toParams(
  request: CompletionRequest,
  model: string,
  tokenLimitParam: 'max_tokens' | 'max_completion_tokens',
): CompletionParams {
  const messages: ChatCompletionMessageParam[] = [];
  if (request.system !== '') messages.push({ role: 'system', content: request.system });
  for (const message of request.messages) messages.push(toMessage(message));
  return {
    model,
    messages,
    [tokenLimitParam]: request.maxTokens,
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.tools && request.tools.length > 0 ? { tools: request.tools.map(toTool) } : {}),
  };
}

function toTool(tool: ToolSpec): ChatCompletionTool {
  return {
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
  };
}

function toMessage(message: ChatMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: message.content };
    case 'assistant': {
      const calls = message.toolCalls ?? [];
      if (calls.length === 0) return { role: 'assistant', content: message.content };
      return {
        role: 'assistant',
        content: message.content === '' ? null : message.content,
        tool_calls: calls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: JSON.stringify(call.input) },
        })),
      };
    }
    case 'tool':
      // Chat Completions has no error flag on tool results; the model reads it from the text.
      return {
        role: 'tool',
        tool_call_id: message.toolCallId,
        content: message.isError ? `ERROR: ${message.content}` : message.content,
      };
  }
}

function fromCompletion(
  completion: ChatCompletion,
  request: CompletionRequest,
  model: string,
  provider: string,
): Omit<CompletionResult, 'attempts'> {
  // The SDK returns whatever JSON arrived; a compatible server may send something else entirely.
  const choice = Array.isArray(completion?.choices) ? completion.choices[0] : undefined;
  if (!choice?.message) {
    throw new ProviderError('invalid_response', `${provider}: response has no choices`, {
      provider,
    });
  }
  const text = choice.message.content ?? '';
  const toolCalls: ToolCall[] = [];
  for (const call of choice.message.tool_calls ?? []) {
    if (call.type !== 'function') continue;
    toolCalls.push({
      id: call.id,
      name: call.function.name,
      input: parseArguments(call.function.arguments, call.function.name, provider),
    });
  }
  return {
    text,
    toolCalls,
    usage: usageOf(completion.usage, request, text, toolCalls),
    model: completion.model || model,
    stopReason: choice.finish_reason ?? 'unknown',
  };
}

/** Some compatible servers omit usage; an estimate beats a zero in cost accounting. */
function usageOf(
  usage: ChatCompletion['usage'] | null | undefined,
  request: CompletionRequest,
  text: string,
  toolCalls: ToolCall[],
): CompletionResult['usage'] {
  if (usage) return { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens };
  const prompt = request.system + request.messages.map((m) => m.content).join('\n');
  const answer = text + (toolCalls.length > 0 ? JSON.stringify(toolCalls) : '');
  return { inputTokens: estimateTokens(prompt), outputTokens: estimateTokens(answer) };
}

async function collectStream(
  stream: AsyncIterable<ChatCompletionChunk>,
  request: CompletionRequest,
  model: string,
  deadline: CallDeadline,
  provider: string,
): Promise<Omit<CompletionResult, 'attempts'>> {
  const onText = request.onText;
  let text = '';
  let reportedModel = '';
  let finishReason: string | undefined;
  let usage: ChatCompletion['usage'] | undefined;
  const calls = new Map<number, { id: string; name: string; args: string }>();

  for await (const chunk of stream) {
    if (chunk.model) reportedModel = chunk.model;
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    const delta = choice.delta ?? {};
    if (delta.content) {
      text += delta.content;
      onText?.(delta.content);
    }
    for (const part of delta.tool_calls ?? []) {
      const call = calls.get(part.index) ?? { id: '', name: '', args: '' };
      if (part.id) call.id = part.id;
      if (part.function?.name) call.name += part.function.name;
      if (part.function?.arguments) call.args += part.function.arguments;
      calls.set(part.index, call);
    }
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  // The SDK ends the iteration quietly when the request is aborted; the caller maps the reason.
  deadline.signal.throwIfAborted();
  if (finishReason === undefined) {
    throw new ProviderError('invalid_response', `${provider}: stream ended without finish_reason`, {
      provider,
    });
  }
  const toolCalls = [...calls.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, call]) => ({
      id: call.id,
      name: call.name,
      input: parseArguments(call.args, call.name, provider),
    }));
  return {
    text,
    toolCalls,
    usage: usageOf(usage, request, text, toolCalls),
    model: reportedModel || model,
    stopReason: finishReason,
  };
}

function parseArguments(args: string, tool: string, provider: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(args);
  } catch (err) {
    throw new ProviderError(
      'invalid_response',
      `${provider}: arguments of tool call ${tool} are not valid JSON`,
      { provider },
      { cause: err },
    );
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { value };
}

function toProviderError(
  err: unknown,
  provider: string,
  attempts: number,
  deadline: CallDeadline,
  timeoutMs: number,
): unknown {
  const cut = deadline.reason();
  if (cut) return cutShortError(cut, provider, timeoutMs, attempts, err);
  const details = { provider, attempts };
  if (err instanceof ProviderError) {
    return new ProviderError(err.kind, err.message, { ...err.details, attempts }, { cause: err });
  }
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  if (err instanceof APIConnectionTimeoutError) {
    return new ProviderError('timeout', `${provider}: request timed out (${tries})`, details, {
      cause: err,
    });
  }
  if (err instanceof APIUserAbortError) {
    return new ProviderError('aborted', `${provider}: call aborted`, details, { cause: err });
  }
  if (err instanceof APIConnectionError) {
    const reason = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return new ProviderError(
      'network',
      `${provider}: connection failed (${tries})${reason}`,
      details,
      { cause: err },
    );
  }
  if (err instanceof APIError) {
    const status = typeof err.status === 'number' ? err.status : undefined;
    // An error object inside a stream has no status: the server failed mid-answer.
    const kind = status !== undefined ? kindForStatus(status) : 'server';
    const label = status !== undefined ? `HTTP ${status}` : 'stream error';
    return new ProviderError(
      kind,
      `${provider}: ${label} after ${tries}: ${err.message}`,
      status !== undefined ? { ...details, status } : details,
      { cause: err },
    );
  }
  if (err instanceof SyntaxError || err instanceof OpenAIError) {
    return new ProviderError(
      'invalid_response',
      `${provider}: unreadable response: ${err.message}`,
      details,
      { cause: err },
    );
  }
  return err;
}
