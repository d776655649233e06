// A small client for the service's HTTP API, used by the CLI: turns network failures and JSON
// errors into messages that say what to do next.

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Causes that prove the request never reached the service (nothing to retry for). */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ERR_INVALID_URL']);

/** A request that got no answer (refused, reset, DNS, timeout). */
export class UnreachableError extends CliError {
  constructor(
    message: string,
    /** The request may have reached the service (reset, timeout): it may have run. */
    readonly maybeDelivered: boolean,
  ) {
    super(message);
    this.name = 'UnreachableError';
  }
}

export interface RequestOptions {
  headers?: Record<string, string>;
}

export interface ApiClientOptions {
  url: string;
  key?: string | undefined;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

export function createApiClient(options: ApiClientOptions) {
  const doFetch = options.fetch ?? fetch;
  const base = options.url.replace(/\/+$/, '');

  async function request<T>(
    method: string,
    path: string,
    body?: unknown,
    extra: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    let res: Response;
    try {
      res = await doFetch(base + path, {
        method,
        headers: {
          accept: 'application/json',
          ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...extra.headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw unreachableError(base, err);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T };
  }

  /** Like request, but a non-2xx answer becomes a CliError naming the code and request id. */
  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
    extra?: RequestOptions,
  ): Promise<T> {
    const res = await request<T>(method, path, body, extra);
    if (res.status >= 200 && res.status < 300) return res.body;
    throw httpError(res.status, res.body, Boolean(options.key));
  }

  return { request, call, base, key: options.key, fetch: doFetch };
}

export type ApiClient = ReturnType<typeof createApiClient>;

/** The error for a request that never got an answer (refused, DNS, timeout). */
export function unreachableError(base: string, err: unknown): UnreachableError {
  const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
  return new UnreachableError(
    `Cannot reach ${base} (${cause}). Is the service running? Start it with \`cfn start\`, or pass --url.`,
    !NOT_SENT.has(cause),
  );
}

/** The error for a non-2xx answer: the service's code, message and request id, plus what to do. */
export function httpError(status: number, body: unknown, withKey: boolean): CliError {
  const e = (body as { error?: { code?: string; message?: string; requestId?: string } } | null)
    ?.error;
  const hint =
    status === 401
      ? withKey
        ? ' The API key was rejected (mistyped or revoked?): check --key or CFN_API_KEY.'
        : ' Pass an API key with --key or the CFN_API_KEY environment variable.'
      : status === 403
        ? ' Use a key with a higher role.'
        : '';
  return new CliError(
    `${e?.code ?? `HTTP ${status}`}: ${e?.message ?? String(body).slice(0, 200)}` +
      `${e?.requestId ? ` (request id ${e.requestId})` : ''}.${hint}`,
  );
}
