// The LLM provider seam: one neutral request/response shape that the Anthropic, OpenAI-compatible
// and CLI adapters translate to and from their wire formats.

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the tool's input object. */
  inputSchema: Record<string, unknown>;
}

export interface ToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export type ChatMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string; isError?: boolean };

export interface CompletionRequest {
  model?: string | undefined;
  system: string;
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number | undefined;
  tools?: ToolSpec[];
  /** Aborts the call (and kills a CLI subprocess); the promise then rejects with kind 'aborted'. */
  signal: AbortSignal;
  /** Per-call timeout, retries included. */
  timeoutMs: number;
  /** Extra request headers, e.g. X-Request-Id and X-CFN-Call-Key so one id finds every line. */
  headers?: Record<string, string>;
  /** Working directory for CLI providers (the swarm workspace). */
  cwd?: string | undefined;
  /** Streaming: called with each text delta as it arrives. */
  onText?: (delta: string) => void;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface CompletionResult {
  text: string;
  toolCalls: ToolCall[];
  usage: TokenUsage;
  /** The model that answered (as the provider reports it). */
  model: string;
  stopReason: string;
  /** Attempts made, retries included. */
  attempts: number;
}

export type ProviderErrorKind =
  | 'auth' // 401/403: fails fast
  | 'bad_request' // 400/404/422: fails fast
  | 'rate_limited' // 429 after retries
  | 'server' // 5xx after retries
  | 'timeout'
  | 'aborted'
  | 'network'
  | 'invalid_response'
  | 'process'; // CLI provider: non-zero exit, spawn failure

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly details: { status?: number; provider?: string; attempts?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }
}

export interface Provider {
  /** Configured name (e.g. "anthropic", "local-ollama"). */
  readonly name: string;
  readonly kind: 'anthropic' | 'openai' | 'cli';
  readonly defaultModel: string;
  /** Whether the adapter can run workspace tools through the model's tool-calling. */
  readonly supportsTools: boolean;
  complete(request: CompletionRequest): Promise<CompletionResult>;
  /**
   * The input tokens of a request as the provider's own tokenizer counts them (no completion, no
   * cost), where the provider can tell; budgets bound the others themselves.
   */
  countInputTokens?(request: TokenCountRequest): Promise<number>;
  /** The state of the provider's flow control (src/providers/flow-control.ts), when it has one. */
  flowStats?(): FlowStats;
}

export interface FlowStats {
  /** Requests to the provider waiting for their answer now. */
  inFlight: number;
  /** The adaptive limit of requests in flight now (at most `maxConcurrency`). */
  limit: number;
  maxConcurrency: number;
  /** Requests waiting for a slot, a rate-limit token or the end of a backoff. */
  queued: number;
  /** Milliseconds left of the backoff a 429 started (0 when none). */
  backoffMs: number;
  /** 429 answers seen since start. */
  rateLimited: number;
}

export type TokenCountRequest = Pick<
  CompletionRequest,
  'model' | 'system' | 'messages' | 'tools' | 'signal' | 'headers'
>;

export interface PriceTable {
  /** USD per million tokens, by model id (exact) or prefix ending in '*'. */
  prices: Record<string, { input: number; output: number }>;
}
