// The HTTP client under the provider SDKs: a `fetch` over undici's request API and a keep-alive
// connection pool (the WHATWG fetch of Node costs several times more CPU per call), and a counter
// of the attempts each call made, retries included, without a client per call.
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { ON_RESEND } from './limited-fetch.js';

type Fetch = typeof globalThis.fetch;
type HeadersInit = NonNullable<RequestInit['headers']>;

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
    const contentType = res.headers['content-type'];
    if (typeof contentType === 'string' && contentType.includes('text/event-stream')) {
      return new Response(Readable.toWeb(res.body) as ReadableStream<Uint8Array>, {
        status: res.statusCode,
        headers: toHeaders(res.headers),
      });
    }
    const text = NO_BODY.has(res.statusCode) ? (await res.body.dump(), '') : await res.body.text();
    return new BufferedResponse(url, res.statusCode, res.headers, text) as unknown as Response;
  };
}

type RawHeaders = Record<string, string | string[] | undefined>;

function toHeaders(raw: RawHeaders): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (Array.isArray(v)) for (const one of v) headers.append(k, one);
    else if (v !== undefined) headers.set(k, v);
  }
  return headers;
}

/**
 * The read side of the Headers of a response, over the lower-cased record undici gives: building
 * a WHATWG Headers (and a Response with a ReadableStream around an already buffered body) for
 * every call was a tenth of the engine's CPU per task.
 */
class ResponseHeaders {
  constructor(private readonly raw: RawHeaders) {}
  get(name: string): string | null {
    const v = this.raw[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }
  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }
  getSetCookie(): string[] {
    const v = this.raw['set-cookie'];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  }
  *entries(): IterableIterator<[string, string]> {
    for (const k of Object.keys(this.raw).sort()) {
      const v = this.get(k);
      if (v !== null) yield [k, v];
    }
  }
  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): IterableIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }
  forEach(fn: (value: string, key: string, parent: ResponseHeaders) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/**
 * A Response whose body has been read: what the SDKs use of one (status, ok, headers, url,
 * json/text/arrayBuffer, clone), with the single-read rule of fetch kept.
 */
class BufferedResponse {
  readonly headers: ResponseHeaders;
  readonly ok: boolean;
  readonly statusText = '';
  readonly redirected = false;
  readonly type = 'basic';
  readonly body = null;
  private used = false;
  constructor(
    readonly url: string,
    readonly status: number,
    private readonly raw: RawHeaders,
    private readonly content: string,
  ) {
    this.headers = new ResponseHeaders(raw);
    this.ok = status >= 200 && status < 300;
  }
  get bodyUsed(): boolean {
    return this.used;
  }
  private consume(): string {
    if (this.used) throw new TypeError('Body is unusable: Body has already been read');
    this.used = true;
    return this.content;
  }
  async text(): Promise<string> {
    return this.consume();
  }
  async json(): Promise<unknown> {
    return JSON.parse(this.consume());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    const buf = Buffer.from(this.consume());
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  }
  async blob(): Promise<Blob> {
    return new Blob([this.consume()], { type: this.headers.get('content-type') ?? '' });
  }
  clone(): BufferedResponse {
    if (this.used) throw new TypeError('Response.clone: Body has already been consumed.');
    return new BufferedResponse(this.url, this.status, this.raw, this.content);
  }
}

let shared: Fetch | undefined;
/** One pool for the whole process, for providers built without the registry (tests, tools). */
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

/**
 * Counts each call's attempts through a header that is removed before the request leaves: every
 * request the SDK sends, and every time the flow control sends one again.
 */
export function createAttemptCounter(base: Fetch): AttemptCounter {
  const counts = new Map<string, number>();
  let next = 0;
  return {
    fetch: async (input, init = {}) => {
      // The SDKs build a Headers object for every attempt: it is ours to change.
      const headers = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
      const id = headers.get(CALL_HEADER);
      if (id === null) return base(input, { ...init, headers });
      headers.delete(CALL_HEADER);
      const count = () => void (counts.has(id) && counts.set(id, counts.get(id)! + 1));
      count();
      // A request sent again after a 429 (src/providers/limited-fetch.ts) is an attempt too.
      return base(input, { ...init, headers, [ON_RESEND]: count } as RequestInit);
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
