// Type declarations for fake-llm-core.mjs (the fake LLM server is plain JavaScript so that it also
// runs as a separate bare-`node` process); TypeScript code imports it through fake-llm.ts.

import type { EventEmitter } from 'node:events';

export type FakeFormat = 'anthropic' | 'openai';

/** A request message in one shape for both wire formats; tool results are role 'tool'. */
export interface FakeMessage {
  role: 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls?: FakeToolCall[];
  toolCallId?: string;
  isError?: boolean;
}

export interface FakeToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export interface FakeTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/** What the server did with a request: 'pending' until the responder has decided. */
export type FakeReplyKind =
  'pending' | 'text' | 'rate_limited' | 'server_error' | 'client_error' | 'hang' | 'raw';

/** One logged request; the same object is handed to the responder and kept up to date. */
export interface FakeRequest {
  id: number;
  /** ISO time of arrival. */
  time: string;
  /** Arrival (first byte handled) and end of the response, epoch ms with sub-ms precision. */
  receivedAt: number;
  respondedAt: number | undefined;
  format: FakeFormat;
  path: string;
  model: string;
  /** Anthropic `system`, or the OpenAI system/developer messages joined. */
  system: string;
  messages: FakeMessage[];
  tools: FakeTool[];
  stream: boolean;
  /** OpenAI `stream_options.include_usage` (always true for Anthropic, whose stream has usage). */
  includeUsage: boolean;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  requestId: string | undefined;
  callKey: string | undefined;
  /** Parsed JSON body, or null when the body was not JSON. */
  body: unknown;
  rawBody: string;
  reply: FakeReplyKind;
  status: number | undefined;
  /** A full successful (text) response was written and ended. */
  completed: boolean;
  /** The client closed the connection before the response ended. */
  clientClosed: boolean;
}

export interface FakeTextReply {
  text?: string;
  toolCalls?: Array<{ id?: string; name: string; input?: Record<string, unknown> }>;
  /** Defaults: estimateTokens() of the prompt and of the answer (the answer cut at max_tokens). */
  usage?: { inputTokens?: number; outputTokens?: number };
  /** Wait before the response starts (cut short when the client goes away). */
  delayMs?: number;
  /** Streaming only: wait between SSE frames. */
  chunkDelayMs?: number;
  /** Overrides stop_reason / finish_reason. */
  stopReason?: string;
  /** Overrides the model reported back (default: the requested one). */
  model?: string;
}

export type FakeReply =
  | FakeTextReply
  | { status: 429; retryAfterSeconds?: number; message?: string }
  | { status: 500 | 502 | 503 | 504 | 529; message?: string }
  | { status: 400 | 401 | 403 | 404 | 413 | 422; message?: string }
  | { hang: true }
  | { raw: string; status?: number; contentType?: string };

export type FakeResponder = (req: FakeRequest) => FakeReply | Promise<FakeReply>;

export interface FakeRule {
  /** Substring of the system prompt or of the last user message. */
  match: string;
  reply: FakeReply;
}

export interface FakeLlmOptions {
  /** Default 0 (a free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: echoResponder. */
  responder?: FakeResponder;
  /** When set, requests without this key (Anthropic: x-api-key or Bearer; OpenAI: Bearer) get the real APIs' 401. */
  apiKey?: string;
  /** Serve the request log at GET /_log. */
  exposeLog?: boolean;
}

export interface FakeLlm {
  /** Base URL without path, e.g. http://127.0.0.1:43123 (OpenAI clients append /v1). */
  url: string;
  port: number;
  /** Every request in arrival order, updated in place as replies progress. */
  requests: FakeRequest[];
  /** Each token counting request (Anthropic's POST /v1/messages/count_tokens), not in `requests`. */
  tokenCounts: Array<{ callKey: string | undefined; inputTokens: number }>;
  /** 'request' (a request arrived) and 'change' (any log entry changed), with the entry. */
  events: EventEmitter;
  setResponder(responder: FakeResponder): void;
  /** Clears the log, restarts ids at 1 and restores the initial responder. */
  reset(): void;
  /** Calls the listener as each request arrives; returns the unsubscribe function. */
  onRequest(listener: (req: FakeRequest) => void): () => void;
  /** Resolves with the predicate's first truthy value, re-checked on every log change. */
  waitUntil<T>(
    predicate: (requests: readonly FakeRequest[]) => T | undefined | null | false,
    timeoutMs?: number,
  ): Promise<T>;
  /** Resolves with the first `count` requests once that many have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<FakeRequest[]>;
  /** Stops listening and drops open connections (hanging requests included). */
  close(): Promise<void>;
}

export function startFakeLlm(options?: FakeLlmOptions): Promise<FakeLlm>;
export function echoResponder(req: FakeRequest): FakeReply;
export function createRuleResponder(rules: readonly FakeRule[]): FakeResponder;
export function parseRules(json: unknown): FakeRule[];
export function estimateTokens(text: string): number;
