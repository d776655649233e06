// Generators of hostile HTTP requests for the fuzz suite: every route of the app's route table
// with random methods, percent-encoded and dot-segment paths, query values, headers (huge,
// repeated, invalid), callers with and without keys, and bodies (JSON with hostile strings, deep
// nesting, wrong types, non-JSON, wrong content types, broken encodings), plus raw bytes that
// are not HTTP at all. Every request is complete as framed, so the server never waits for more.
import fc from 'fast-check';
import type { RouteEntry } from '../../src/http/route-table.js';
import { bodyForRoute, encoded, encodedPiece, mostly, weighted } from './hostile-values.js';

export type Caller = 'none' | 'malformed' | 'revoked' | 'viewer' | 'operator' | 'admin';

export interface FuzzContext {
  routes: readonly RouteEntry[];
  /** Ids of things that exist (a swarm, a disposable key), so routes get past their lookups. */
  ids: readonly string[];
  agents: readonly string[];
  keys: Record<Exclude<Caller, 'none' | 'malformed'>, string>;
}

export interface FuzzRequest {
  kind: 'http' | 'raw';
  caller: Caller;
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** The request as bytes, exactly as sent. */
  bytes: Buffer;
}

// ---- paths

const segment = fc.array(encodedPiece, { minLength: 1, maxLength: 3 }).map((p) => p.join(''));

function targetFor(ctx: FuzzContext): fc.Arbitrary<{ route: RouteEntry; path: string }> {
  const param = fc.oneof(
    { arbitrary: fc.constantFrom(...ctx.ids, ...ctx.agents), weight: 4 },
    { arbitrary: fc.uuid(), weight: 2 },
    { arbitrary: segment, weight: 4 },
    { arbitrary: fc.nat({ max: 20_000 }).map((n) => 'a'.repeat(n)), weight: 1 },
  );
  const suffix = mostly('', [
    '/',
    '//',
    '/.',
    '/..',
    '/../..',
    '/%2e%2e/',
    '/./x',
    '%2F',
    '%',
    '/extra',
    ';a=b',
  ]);
  return fc
    .record({
      route: fc.constantFrom(...ctx.routes),
      params: fc.array(param, { minLength: 4, maxLength: 4 }),
      suffix,
      upper: weighted([false, 9], [true, 1]),
    })
    .map(({ route, params, suffix: tail, upper }) => {
      let i = 0;
      const filled = route.path.replace(/:[A-Za-z]+/g, () => params[i++ % params.length]!);
      const path = filled + tail;
      return { route, path: upper ? path.toUpperCase() : path };
    });
}

const queryName = fc.constantFrom(
  'limit',
  'cursor',
  'status',
  'strategy',
  'role',
  'includeRevoked',
  'before',
  'action',
  'after',
  'x',
  'cursor[]',
  '__proto__',
);

const queryValue = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom('', '0', '-1', '1e30', 'NaN', 'Infinity', '0x10', 'true', 'maybe', 'completed'),
  encodedPiece,
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(s).toString('base64url')),
  fc
    .tuple(fc.date({ noInvalidDate: true }), fc.oneof(fc.uuid(), fc.string({ maxLength: 8 })))
    .map(([d, id]) => Buffer.from(`${d.toISOString()}|${id}`).toString('base64url')),
);

const query = fc.oneof(
  { arbitrary: fc.constant(''), weight: 3 },
  {
    arbitrary: fc
      .array(fc.tuple(queryName, queryValue), { minLength: 1, maxLength: 4 })
      .map((pairs) => '?' + pairs.map(([k, v]) => `${k}=${v}`).join('&')),
    weight: 5,
  },
  { arbitrary: fc.constantFrom('?', '?&', '?=', '?a', '?%', '?limit=1&limit=2'), weight: 1 },
);

// ---- headers

const contentType = mostly('application/json', [
  'application/json; charset=utf-8',
  'application/json; charset=utf-16le',
  'application/json; charset=latin1',
  'application/json; charset=nope',
  'application/merge-patch+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
  ';;;',
]);

const headerToken = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/);

/** Header values as bytes (latin1): printable, with obs-text, or with bytes the parser refuses. */
const headerValue = fc.oneof(
  {
    arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => s.trim()),
    weight: 6,
  },
  {
    arbitrary: fc.constantFrom('caf\xe9', '\xff\xfe', 'a\u0000b', 'a\rb', 'a\x7fb', '\tx'),
    weight: 1,
  },
  { arbitrary: fc.nat({ max: 20_000 }).map((n) => 'v'.repeat(n)), weight: 1 },
);

const extraHeader: fc.Arbitrary<[string, string]> = fc.oneof(
  { arbitrary: fc.tuple(headerToken, headerValue), weight: 4 },
  {
    arbitrary: fc.tuple(
      fc.constantFrom(
        'X-Request-Id',
        'Idempotency-Key',
        'Last-Event-ID',
        'Expect',
        'Accept-Encoding',
        'If-None-Match',
        'Range',
        'X-Forwarded-For',
        'Upgrade',
        'Cookie',
        'Content-Type',
        'Host',
      ),
      fc.oneof(
        headerValue,
        fc.constantFrom(
          '100-continue',
          'tea',
          '0',
          '-1',
          '99999999999999999999',
          'h2c',
          'websocket',
        ),
      ),
    ),
    weight: 6,
  },
  { arbitrary: fc.constant<[string, string]>(['Bad Name', 'x']), weight: 1 },
  { arbitrary: fc.constant<[string, string]>(['Transfer-Encoding', 'chunked']), weight: 1 },
);

const extraHeaders: fc.Arbitrary<Array<[string, string]>> = fc.oneof(
  { arbitrary: fc.constant<Array<[string, string]>>([]), weight: 3 },
  { arbitrary: fc.array(extraHeader, { minLength: 1, maxLength: 3 }), weight: 2 },
);

function authorization(caller: Caller, ctx: FuzzContext): fc.Arbitrary<string | undefined> {
  if (caller === 'none') return fc.constant(undefined);
  if (caller === 'malformed')
    return fc.constantFrom(
      'Bearer',
      'Bearer ',
      'Basic YWRtaW46YWRtaW4=',
      'Bearer a b',
      `bearer ${ctx.keys.viewer}x`,
      'Bearer cfn_\u00ff',
      `Bearer ${'k'.repeat(5000)}`,
    );
  const key = ctx.keys[caller];
  return fc.constantFrom(`Bearer ${key}`, `bearer ${key}`, `Bearer  ${key} `);
}

// ---- requests

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'TRACE'];

function frame(
  method: string,
  target: string,
  version: string,
  headers: Array<[string, string]>,
  body: Buffer,
): Buffer {
  const head = `${method} ${target} ${version}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Chunked framing of `body`, complete (a last chunk), so the server never waits for more. */
const chunked = (body: Buffer) =>
  body.length
    ? Buffer.concat([
        Buffer.from(`${body.length.toString(16)}\r\n`),
        body,
        Buffer.from('\r\n0\r\n\r\n'),
      ])
    : Buffer.from('0\r\n\r\n');

export function httpRequest(ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      caller: weighted<Caller>(
        ['none', 1],
        ['malformed', 1],
        ['revoked', 1],
        ['viewer', 2],
        ['operator', 2],
        ['admin', 3],
      ),
      target: targetFor(ctx),
      query,
      ownMethod: weighted([true, 3], [false, 1]),
      /** Which of the route's own methods (HEAD only now and then: its answers have no body). */
      methodPick: fc.nat(),
      otherMethod: fc.constantFrom(...METHODS),
      version: weighted(
        ['HTTP/1.1', 36],
        ['HTTP/1.0', 2],
        ['HTTP/2.0', 1],
        ['HTTP/3.0', 1],
        ['HTTP/1.2', 1],
      ),
      contentType,
      encoded,
      withBody: weighted([false, 3], [true, 1]),
      length: weighted(['exact', 34], ['chunked', 3], ['short', 2], ['twice', 1]),
      extra: extraHeaders,
      host: weighted<string | undefined>(
        ['localhost', 30],
        [undefined, 1],
        ['a b', 1],
        ['[::1]:1', 1],
      ),
    })
    .chain((r) => authorization(r.caller, ctx).map((auth) => ({ ...r, auth })))
    .map((r) => {
      const own = r.target.route.methods.filter((m) => m !== 'HEAD');
      const method = r.ownMethod ? (own[r.methodPick % own.length] ?? 'GET') : r.otherMethod;
      const target = r.target.path + r.query;
      const body = r.withBody || method === 'POST' ? r.encoded.body : Buffer.alloc(0);
      const headers: Array<[string, string]> = [];
      if (r.host !== undefined) headers.push(['Host', r.host]);
      headers.push(['Connection', 'close']);
      if (r.auth !== undefined) headers.push(['Authorization', r.auth]);
      if (body.length) headers.push(['Content-Type', r.contentType]);
      if (body.length && r.encoded.encoding) headers.push(['Content-Encoding', r.encoded.encoding]);
      let sent = body;
      if (r.length === 'chunked') {
        headers.push(['Transfer-Encoding', 'chunked']);
        sent = chunked(body);
      } else if (r.length === 'exact') {
        headers.push(['Content-Length', String(body.length)]);
      } else if (r.length === 'short') {
        headers.push(['Content-Length', String(body.length >> 1)]);
      } else if (r.length === 'twice') {
        headers.push(
          ['Content-Length', String(body.length)],
          ['Content-Length', String(body.length + 1)],
        );
      }
      // Extra headers that would make the framing wait for more bytes are left out.
      const extra = r.extra.filter(([k]) => !(k === 'Transfer-Encoding' && r.length !== 'chunked'));
      headers.push(...extra);
      return printable({
        kind: 'http',
        caller: r.caller,
        method,
        target,
        version: r.version,
        headers,
        body,
        bytes: frame(method, target, r.version, headers, sent),
      });
    });
}

/**
 * A well-formed call with a valid key to a route that takes a body, the body hostile: so most of
 * these get past the HTTP framing and authentication into validation, the store and the engine.
 */
export function apiCall(ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const posts = ctx.routes.filter((r) => r.methods.includes('POST'));
  return fc
    .record({
      caller: weighted<Caller>(['admin', 3], ['operator', 2], ['viewer', 1]),
      target: targetFor({ ...ctx, routes: posts }).chain((target) =>
        bodyForRoute(target.route.path).map((body) => ({ ...target, body })),
      ),
      contentType: weighted(['application/json', 8], ['application/json; charset=utf-8', 1]),
      idempotencyKey: fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 4 },
        { arbitrary: fc.uuid(), weight: 2 },
        { arbitrary: fc.constantFrom('retry-1', '', 'k'.repeat(300), ' x '), weight: 2 },
      ),
    })
    .map((r) => {
      const headers: Array<[string, string]> = [
        ['Host', 'localhost'],
        ['Connection', 'close'],
        ['Authorization', `Bearer ${ctx.keys[r.caller as 'admin']}`],
        ['Content-Type', r.contentType],
        ['Content-Length', String(r.target.body.body.length)],
      ];
      if (r.target.body.encoding) headers.push(['Content-Encoding', r.target.body.encoding]);
      if (r.idempotencyKey !== undefined) headers.push(['Idempotency-Key', r.idempotencyKey]);
      const target = r.target.path.split('?')[0]!;
      return printable({
        kind: 'http',
        caller: r.caller,
        method: 'POST',
        target,
        version: 'HTTP/1.1',
        headers,
        body: r.target.body.body,
        bytes: frame('POST', target, 'HTTP/1.1', headers, r.target.body.body),
      });
    });
}

/** Bytes that are not a valid request: mangled request lines and headers, or no HTTP at all. */
export function rawRequest(): fc.Arbitrary<FuzzRequest> {
  const line = fc.oneof(
    fc.constantFrom(
      'GET / HTTP/1.1',
      'get /health HTTP/1.1',
      'GET  /health HTTP/1.1',
      'GET /health',
      'GET /health HTTP/1.1 extra',
      'GET /he alth HTTP/1.1',
      'G\u0000T /health HTTP/1.1',
      'GET /health HTTP/1.x',
      '/health HTTP/1.1',
      'CONNECT localhost:3000 HTTP/1.1',
      'OPTIONS * HTTP/1.1',
      'GET http://localhost/health HTTP/1.1',
    ),
    fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 40 }).map((s) => `X${s}`),
  );
  const header = fc.oneof(
    fc.constantFrom(
      'Host: localhost',
      'Host localhost',
      ' Host: localhost',
      'Host : localhost',
      'X-Folded: a\r\n b',
      'Content-Length: -1',
      'Content-Length: abc',
      'Transfer-Encoding: chunked, gzip',
      'Transfer-Encoding: chunked\r\nContent-Length: 3',
      'Connection: close',
      '\u0000: x',
    ),
    fc
      .string({ unit: 'binary-ascii', maxLength: 30 })
      .map((s) => `X-${s.replace(/[\r\n]/g, '')}: v`),
  );
  return fc
    .record({
      line,
      headers: fc.array(header, { maxLength: 4 }),
      lf: fc.boolean(),
      noise: fc.uint8Array({ maxLength: 40 }),
    })
    .map(({ line: l, headers, lf, noise }) => {
      const eol = lf ? '\n' : '\r\n';
      const bytes = Buffer.concat([
        Buffer.from(`${l}${eol}${headers.join(eol)}${eol}${eol}`, 'latin1'),
        // Noise after the head: a body the head does not frame, or a second request.
        Buffer.from(noise),
        Buffer.from('\r\n\r\n'),
      ]);
      return printable({
        kind: 'raw',
        caller: 'none',
        method: l.split(' ')[0] ?? '',
        target: l.split(' ')[1] ?? '',
        version: l.split(' ')[2] ?? '',
        headers: [],
        body: Buffer.alloc(0),
        bytes,
      });
    });
}

/** The request as text for a failure report: printable, escaped, and not too long. */
export function describeRequest(r: FuzzRequest): string {
  const text = r.bytes.toString('latin1');
  const shown = text.length > 1500 ? `${text.slice(0, 1500)}… (${text.length} bytes)` : text;
  return JSON.stringify(shown)
    .slice(1, -1)
    .replace(/\\r\\n/g, '\\r\\n\n');
}

/** fast-check prints a counterexample with this: the request's bytes, readable. */
function printable(r: FuzzRequest): FuzzRequest {
  return Object.assign(r, {
    [fc.toStringMethod]: () =>
      `${r.caller} caller, ${r.bytes.length} bytes:\n${describeRequest(r)}`,
  });
}
