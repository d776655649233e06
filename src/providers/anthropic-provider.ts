// Provider adapter for the Anthropic Messages API (and endpoints compatible with it) through the
// official SDK: translates the neutral request, streams when asked, lets the SDK retry 429/5xx
// (honouring Retry-After), and maps every failure to a ProviderError kind.

import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AnthropicError,
} from '@anthropic-ai/sdk';
import type { Logger } from '../ports/logger.js';
import {
  ProviderError,
  type ChatMessage,
  type CompletionRequest,
  type CompletionResult,
  type Provider,
  type ProviderErrorKind,
  type TokenCountRequest,
  type ToolCall,
  type ToolSpec,
} from '../ports/provider.js';
import { cutShortError, startCallDeadline, type CallDeadline } from './call-deadline.js';
import { kindForStatus } from './http-status-kind.js';
import { createAttemptCounter, defaultProviderFetch } from './provider-fetch.js';
import { createSdkLogger } from './sdk-logger.js';

export interface AnthropicProviderOptions {
  name: string;
  apiKey: string;
  /** Default https://api.anthropic.com (the SDK appends /v1/messages). */
  baseUrl?: string | undefined;
  defaultModel: string;
  /** Retries after the first attempt, for 408/409/429/5xx and connection failures. */
  maxRetries: number;
  logger?: Logger | undefined;
  /** Replaces the global fetch (a proxy agent, say); every call through it is one attempt. */
  fetch?: typeof globalThis.fetch | undefined;
}

const DEFAULT_BASE_URL = 'https://api.anthropic.com';

export function createAnthropicProvider(options: AnthropicProviderOptions): Provider {
  const { name, defaultModel, maxRetries } = options;
  const counter = createAttemptCounter(options.fetch ?? defaultProviderFetch());
  const client = new Anthropic({
    apiKey: options.apiKey,
    // Explicit, so the SDK's own ANTHROPIC_BASE_URL lookup never overrides our configuration.
    baseURL: options.baseUrl ?? DEFAULT_BASE_URL,
    maxRetries,
    fetch: counter.fetch,
    logger: createSdkLogger(options.logger?.child({ provider: name })),
    logLevel: options.logger ? 'warn' : 'off',
    // The service registers no OpenTelemetry tracer: the SDK's spans and trace-context headers
    // would be no-ops that cost CPU on every call.
    openTelemetry: false,
  });

  return {
    name,
    kind: 'anthropic',
    defaultModel,
    supportsTools: true,
    async complete(request: CompletionRequest): Promise<CompletionResult> {
      const deadline = startCallDeadline(request.signal, request.timeoutMs);
      const call = counter.begin();
      try {
        const params = toMessageParams(request, request.model ?? defaultModel);
        const requestOptions = {
          signal: deadline.signal,
          timeout: request.timeoutMs,
          headers: { ...request.headers, ...call.headers },
        };
        if (request.onText) {
          const stream = await client.messages.create({ ...params, stream: true }, requestOptions);
          const result = await collectStream(stream, request.onText, deadline, name);
          return { ...result, attempts: call.attempts() };
        }
        const message = await client.messages.create({ ...params, stream: false }, requestOptions);
        return { ...fromMessage(message, name), attempts: call.attempts() };
      } catch (err) {
        throw toProviderError(err, name, call.attempts(), deadline, request.timeoutMs);
      } finally {
        deadline.dispose();
        call.end();
      }
    },
    async countInputTokens(request: TokenCountRequest): Promise<number> {
      const deadline = startCallDeadline(request.signal, COUNT_TIMEOUT_MS);
      const { max_tokens: _max, ...params } = toMessageParams(
        { ...request, maxTokens: 1, timeoutMs: COUNT_TIMEOUT_MS },
        request.model ?? defaultModel,
      );
      try {
        // The request carries no temperature: what is left is the counting endpoint's shape.
        const counted = await client.messages.countTokens(
          params as Anthropic.MessageCountTokensParams,
          {
            signal: deadline.signal,
            timeout: COUNT_TIMEOUT_MS,
            maxRetries: 1,
            ...(request.headers ? { headers: request.headers } : {}),
          },
        );
        return counted.input_tokens;
      } catch (err) {
        throw toProviderError(err, name, 1, deadline, COUNT_TIMEOUT_MS);
      } finally {
        deadline.dispose();
      }
    },
  };
}

/** Token counting is quick, or not worth waiting for (the engine then bounds the count itself). */
const COUNT_TIMEOUT_MS = 10_000;

type MessageParams = Omit<Anthropic.MessageCreateParamsNonStreaming, 'stream'>;

function toMessageParams(request: CompletionRequest, model: string): MessageParams {
  return {
    model,
    max_tokens: request.maxTokens,
    messages: toMessages(request.messages),
    ...(request.system !== '' ? { system: request.system } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.tools && request.tools.length > 0 ? { tools: request.tools.map(toTool) } : {}),
  };
}

function toTool(tool: ToolSpec): Anthropic.Tool {
  return {
    name: tool.name,
    description: tool.description,
    input_schema: { ...tool.inputSchema, type: 'object' },
  };
}

/**
 * Tool results travel as tool_result blocks inside a user turn, and all results answering one
 * assistant turn must share the next user turn, so consecutive user-side messages are merged.
 */
function toMessages(messages: ChatMessage[]): Anthropic.MessageParam[] {
  const out: Array<Anthropic.UserMessageParam | Anthropic.AssistantMessageParam> = [];
  for (const message of messages) {
    if (message.role === 'assistant') {
      const calls = message.toolCalls ?? [];
      if (calls.length === 0) {
        out.push({ role: 'assistant', content: message.content });
        continue;
      }
      const blocks: Anthropic.ContentBlockParam[] = [];
      if (message.content !== '') blocks.push({ type: 'text', text: message.content });
      for (const call of calls) {
        blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: call.input });
      }
      out.push({ role: 'assistant', content: blocks });
      continue;
    }
    const block: Anthropic.ContentBlockParam =
      message.role === 'tool'
        ? {
            type: 'tool_result',
            tool_use_id: message.toolCallId,
            content: message.content,
            ...(message.isError ? { is_error: true } : {}),
          }
        : { type: 'text', text: message.content };
    const previous = out.at(-1);
    if (previous?.role === 'user') {
      previous.content = [...asBlocks(previous.content), block];
    } else if (message.role === 'user') {
      out.push({ role: 'user', content: message.content });
    } else {
      out.push({ role: 'user', content: [block] });
    }
  }
  return out;
}

function asBlocks(content: Anthropic.MessageContentParam): Anthropic.ContentBlockParam[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

function fromMessage(
  message: Anthropic.Message,
  provider: string,
): Omit<CompletionResult, 'attempts'> {
  // The SDK returns whatever JSON arrived; a compatible endpoint may send something else entirely.
  if (!message || !Array.isArray(message.content)) {
    throw new ProviderError('invalid_response', `${provider}: response has no content array`, {
      provider,
    });
  }
  let text = '';
  const toolCalls: ToolCall[] = [];
  for (const block of message.content) {
    if (block.type === 'text') text += block.text;
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id, name: block.name, input: asRecord(block.input) });
    }
  }
  return {
    text,
    toolCalls,
    usage: {
      inputTokens: inputTokens(message.usage),
      outputTokens: message.usage?.output_tokens ?? 0,
    },
    model: message.model,
    stopReason: message.stop_reason ?? 'unknown',
  };
}

/** Cache writes and reads are input the model read too; they count towards the input total. */
function inputTokens(
  usage:
    | {
        input_tokens: number | null;
        cache_creation_input_tokens?: number | null;
        cache_read_input_tokens?: number | null;
      }
    | undefined,
): number {
  if (!usage) return 0;
  return (
    (usage.input_tokens ?? 0) +
    (usage.cache_creation_input_tokens ?? 0) +
    (usage.cache_read_input_tokens ?? 0)
  );
}

type BlockState = { kind: 'text' } | { kind: 'tool'; id: string; name: string; json: string };

async function collectStream(
  stream: AsyncIterable<Anthropic.RawMessageStreamEvent>,
  onText: (delta: string) => void,
  deadline: CallDeadline,
  provider: string,
): Promise<Omit<CompletionResult, 'attempts'>> {
  let text = '';
  let model = '';
  let stopReason = 'unknown';
  let input = 0;
  let output = 0;
  let stopped = false;
  const blocks = new Map<number, BlockState>();
  const toolCalls: ToolCall[] = [];

  for await (const event of stream) {
    switch (event.type) {
      case 'message_start':
        model = event.message.model;
        input = inputTokens(event.message.usage);
        output = event.message.usage?.output_tokens ?? 0;
        break;
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'tool_use') {
          // The input arrives as JSON fragments; a non-empty start value only when none follow.
          const initial = asRecord(block.input);
          const json = Object.keys(initial).length > 0 ? JSON.stringify(initial) : '';
          blocks.set(event.index, { kind: 'tool', id: block.id, name: block.name, json });
        } else if (block.type === 'text') {
          blocks.set(event.index, { kind: 'text' });
          if (block.text !== '') {
            text += block.text;
            onText(block.text);
          }
        }
        break;
      }
      case 'content_block_delta': {
        const state = blocks.get(event.index);
        if (event.delta.type === 'text_delta') {
          text += event.delta.text;
          onText(event.delta.text);
        } else if (event.delta.type === 'input_json_delta' && state?.kind === 'tool') {
          state.json += event.delta.partial_json;
        }
        break;
      }
      case 'content_block_stop': {
        const state = blocks.get(event.index);
        if (state?.kind === 'tool') {
          toolCalls.push({
            id: state.id,
            name: state.name,
            input: parseToolInput(state.json, state.name, provider),
          });
        }
        break;
      }
      case 'message_delta':
        stopReason = event.delta.stop_reason ?? stopReason;
        // Both counts are cumulative; input appears here only on some API versions.
        output = event.usage.output_tokens ?? output;
        if (event.usage.input_tokens != null) input = inputTokens(event.usage);
        break;
      case 'message_stop':
        stopped = true;
        break;
    }
  }
  // The SDK ends the iteration quietly when the request is aborted; the caller maps the reason.
  deadline.signal.throwIfAborted();
  if (!stopped) {
    throw new ProviderError('invalid_response', `${provider}: stream ended before message_stop`, {
      provider,
    });
  }
  return {
    text,
    toolCalls,
    usage: { inputTokens: input, outputTokens: output },
    model,
    stopReason,
  };
}

function parseToolInput(json: string, tool: string, provider: string): Record<string, unknown> {
  if (json.trim() === '') return {};
  try {
    return asRecord(JSON.parse(json));
  } catch (err) {
    throw new ProviderError(
      'invalid_response',
      `${provider}: tool_use ${tool} input is not valid JSON`,
      { provider },
      { cause: err },
    );
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { value };
}

/** Error types the API sends without an HTTP status (an `error` event inside a stream). */
function kindForErrorType(type: string | null): ProviderErrorKind {
  switch (type) {
    case 'authentication_error':
    case 'permission_error':
      return 'auth';
    case 'invalid_request_error':
    case 'not_found_error':
    case 'request_too_large':
      return 'bad_request';
    case 'rate_limit_error':
      return 'rate_limited';
    case 'timeout_error':
      return 'timeout';
    default:
      return 'server';
  }
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
    const kind = status !== undefined ? kindForStatus(status) : kindForErrorType(err.type);
    const label = status !== undefined ? `HTTP ${status}` : (err.type ?? 'stream error');
    return new ProviderError(
      kind,
      `${provider}: ${label} after ${tries}: ${err.apiMessage ?? err.message}`,
      status !== undefined ? { ...details, status } : details,
      { cause: err },
    );
  }
  if (err instanceof SyntaxError || err instanceof AnthropicError) {
    return new ProviderError(
      'invalid_response',
      `${provider}: unreadable response: ${err.message}`,
      details,
      { cause: err },
    );
  }
  return err;
}
