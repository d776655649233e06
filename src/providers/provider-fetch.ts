// The HTTP client under the provider SDKs: a `fetch` over undici's request API and a keep-alive
// connection pool (the WHATWG fetch of Node costs several times more CPU per call), and a counter
// of the attempts each call made, retries included, without a client per call.
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';

type Fetch = typeof globalThis.fetch;
type HeadersInit = NonNullable<RequestInit['headers']>;
type BodyInit = NonNullable<RequestInit['body']>;

const NO_BODY = new Set([101, 204, 205, 304]);

function headerRecord(init: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!init) return out;
  if (init instanceof Headers) init.forEach((v, k) => (out[k] = v));
  else if (Array.isArray(init)) for (const [k, v] of init) out[String(k).toLowerCase()] = String(v);
  else for (const [k, v] of Object.entries(init)) out[k.toLowerCase()] = String(v);
  return out;
}

/**
 * A fetch for JSON APIs: string (or absent) request bodies, answers buffered unless they are an
 * event stream. Anything else (a streamed upload) goes to the global fetch.
 */
export function createUndiciFetch(options: { connections?: number } = {}): Fetch {
  const dispatcher: Dispatcher = new Agent({
    keepAliveTimeout: 30_000,
    connections: options.connections ?? 128,
  });
  return async function undiciFetch(input, init = {}) {
    if (init.body != null && typeof init.body !== 'string') return globalThis.fetch(input, init);
    const url =
      typeof input === 'string'
        ? input
        : input instanceof URL
          ? input.href
          : (input as Request).url;
    const res = await request(url, {
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: headerRecord(init.headers),
      body: init.body ?? null,
      signal: init.signal ?? undefined,
      dispatcher,
    });
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (Array.isArray(v)) for (const one of v) headers.append(k, one);
      else if (v !== undefined) headers.set(k, v);
    }
    let body: BodyInit | null = null;
    if (NO_BODY.has(res.statusCode)) await res.body.dump();
    else if ((headers.get('content-type') ?? '').includes('text/event-stream'))
      body = Readable.toWeb(res.body) as ReadableStream<Uint8Array>;
    else body = await res.body.arrayBuffer();
    return new Response(body, { status: res.statusCode, headers });
  };
}

let shared: Fetch | undefined;
/** One pool for the whole process. */
export function defaultProviderFetch(): Fetch {
  return (shared ??= createUndiciFetch());
}

const CALL_HEADER = 'x-cfn-attempt-counter';

export interface AttemptCounter {
  /** The fetch to give the SDK client. */
  fetch: Fetch;
  /** Starts counting a call: send `headers` with it, read `attempts()` after, then `end()`. */
  begin(): { headers: Record<string, string>; attempts(): number; end(): void };
}

/** Counts each call's attempts through a header that is removed before the request leaves. */
export function createAttemptCounter(base: Fetch): AttemptCounter {
  const counts = new Map<string, number>();
  let next = 0;
  return {
    fetch: async (input, init = {}) => {
      // The SDKs build a Headers object for every attempt: it is ours to change.
      const headers = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
      const id = headers.get(CALL_HEADER);
      if (id !== null) {
        headers.delete(CALL_HEADER);
        if (counts.has(id)) counts.set(id, counts.get(id)! + 1);
      }
      return base(input, { ...init, headers });
    },
    begin() {
      const id = String(++next);
      counts.set(id, 0);
      return {
        headers: { [CALL_HEADER]: id },
        attempts: () => counts.get(id) ?? 0,
        end: () => void counts.delete(id),
      };
    },
  };
}
