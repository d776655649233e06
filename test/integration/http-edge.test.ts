// Client input that once got a 500 (or an empty body) now gets a 4xx in the JSON error shape:
// malformed percent-encoding, bad cursors and query values, NUL and lone surrogates in bodies,
// broken Content-Encoding, Node's own parser errors, wrong methods. The real server on PGlite.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installServerEdge } from '../../src/http/server-edge.js';
import { createLogger } from '../../src/observability/logger.js';
import { captureLogs } from '../support/log-capture.js';
import { rawRequest, type RawRequest, type RawResponse } from '../support/raw-http.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let s: TestServer;
let port: number;

beforeAll(async () => {
  s = await startTestServer({ RATE_LIMIT_PER_MINUTE: '0' });
  port = Number(new URL(s.url).port);
});
afterAll(async () => {
  await s?.stop();
});

const auth = (): [string, string] => ['Authorization', `Bearer ${s.adminKey}`];

function send(r: Omit<RawRequest, 'headers'> & { headers?: Array<[string, string]> }) {
  return rawRequest(port, {
    ...r,
    headers: [['Host', 'localhost'], ['Connection', 'close'], ...(r.headers ?? [])],
  });
}

/** A 4xx in the JSON shape whose requestId is the X-Request-Id header; returns the error. */
function expectJsonError(res: RawResponse, status: number, code: string) {
  expect(res.noAnswer, res.body).toBeUndefined();
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as {
    error: { code: string; message: string; requestId: string; details?: unknown };
  };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.requestId).toMatch(/\S/);
  expect(body.error.requestId).toBe(res.headers['x-request-id']);
  return body.error;
}

const issuePaths = (e: { details?: unknown }) =>
  ((e.details as { issues?: Array<{ path: string }> })?.issues ?? []).map((i) => i.path);

describe('paths', () => {
  it('answers malformed percent-encoding with 400, with or without a key', async () => {
    for (const target of ['/api/keys/%E0%A4%A', '/api/swarms/%zz', '/nope%', '/api/agents/%C0%AF'])
      for (const headers of [[], [auth()]] as Array<Array<[string, string]>>) {
        expectJsonError(await send({ method: 'GET', target, headers }), 400, 'MALFORMED_REQUEST');
      }
    // DELETE with the router's own parameter decoding (it throws URIError) never reached a 500.
    expectJsonError(
      await send({ method: 'DELETE', target: '/api/keys/%ff', headers: [auth()] }),
      400,
      'MALFORMED_REQUEST',
    );
  });

  it('answers a NUL in the path with 400 naming the path', async () => {
    const e = expectJsonError(
      await send({ method: 'GET', target: '/api/agents/a%00b', headers: [auth()] }),
      400,
      'VALIDATION_FAILED',
    );
    expect(issuePaths(e)).toEqual(['path']);
  });

  it('answers a wrong method on a known path with 405 and Allow, all JSON', async () => {
    const del = await send({ method: 'DELETE', target: '/api/swarms', headers: [auth()] });
    expectJsonError(del, 405, 'METHOD_NOT_ALLOWED');
    expect(del.headers.allow).toBe('GET, HEAD, POST');
    const put = await send({ method: 'PUT', target: '/health' });
    expectJsonError(put, 405, 'METHOD_NOT_ALLOWED');
    expect(put.headers.allow).toBe('GET, HEAD');
    const get = await send({
      method: 'GET',
      target: '/api/keys/00000000-0000-4000-8000-000000000000/',
      headers: [auth()],
    });
    expectJsonError(get, 405, 'METHOD_NOT_ALLOWED');
    expect(get.headers.allow).toBe('DELETE');
    expectJsonError(
      await send({ method: 'PROPFIND', target: '/api/nothing-here' }),
      404,
      'NOT_FOUND',
    );
  });
});

describe('query values', () => {
  const cursorOf = (text: string) => Buffer.from(text).toString('base64url');

  it('answers a malformed cursor with 400 naming it', async () => {
    for (const cursor of [
      'abc',
      '%25%25',
      cursorOf('2026-01-01T00:00:00.000Z|not-a-uuid'),
      cursorOf('2026-02-30T00:00:00.000Z|00000000-0000-4000-8000-000000000000'),
      cursorOf('0000-01-01T00:00:00.000Z|00000000-0000-4000-8000-000000000000'),
      cursorOf('garbage'),
    ]) {
      const e = expectJsonError(
        await send({ method: 'GET', target: `/api/swarms?cursor=${cursor}`, headers: [auth()] }),
        400,
        'VALIDATION_FAILED',
      );
      expect(issuePaths(e)).toEqual(['cursor']);
    }
    const ok = await send({
      method: 'GET',
      target: `/api/swarms?cursor=${cursorOf('2026-01-01T00:00:00.000Z|00000000-0000-4000-8000-000000000000')}`,
      headers: [auth()],
    });
    expect(ok.status).toBe(200);
  });

  it('answers out-of-range, repeated and NUL query values with 400 naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      ['/api/audit?before=1e30', 'before'],
      ['/api/audit?limit=1&limit=2', 'limit'],
      ['/api/audit?action=%00', 'action'],
      ['/api/swarms?status=%ED%A0%80x', 'status'],
      ['/api/keys?includeRevoked=maybe', 'includeRevoked'],
    ];
    for (const [target, param] of cases) {
      const e = expectJsonError(
        await send({ method: 'GET', target, headers: [auth()] }),
        400,
        'VALIDATION_FAILED',
      );
      expect(new Set(issuePaths(e))).toEqual(new Set([param]));
    }
  });
});

describe('JSON bodies', () => {
  const post = (target: string, body: string | Buffer, headers: Array<[string, string]> = []) =>
    send({
      method: 'POST',
      target,
      headers: [
        auth(),
        ['Content-Type', 'application/json'],
        ['Content-Length', String(Buffer.byteLength(body))],
        ...headers,
      ],
      body,
    });

  it('answers a NUL or an unpaired surrogate in any string with 400 naming the field', async () => {
    const cases: Array<[string, string, string]> = [
      ['/api/keys', '{"name":"a\\u0000b","role":"viewer"}', 'name'],
      ['/api/keys', '{"name":"\\ud800","role":"viewer"}', 'name'],
      ['/api/keys', '{"name":"ok \\udc00 tail","role":"viewer"}', 'name'],
      [
        '/api/swarms',
        '{"objective":"x","validators":["reviewer",{"command":"\\udfff"}]}',
        'validators[1].command',
      ],
      ['/api/swarms', '{"objective":"x","a\\u0000":1}', '["a\\u0000"]'],
      [
        '/api/swarms/00000000-0000-4000-8000-000000000000/decision',
        '{"decision":"PROCEED","feedback":"\\u0000"}',
        'feedback',
      ],
    ];
    for (const [target, body, field] of cases) {
      const e = expectJsonError(await post(target, body), 400, 'VALIDATION_FAILED');
      expect(issuePaths(e)).toEqual([field]);
    }
    // A well-formed pair (an emoji) is fine.
    expect((await post('/api/keys', '{"name":"ok \\ud83d\\ude00","role":"viewer"}')).status).toBe(
      201,
    );
  });

  it('survives deep nesting', async () => {
    const deep = '{"objective":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}';
    const res = await send({
      method: 'POST',
      target: '/api/swarms',
      headers: [
        auth(),
        ['Content-Type', 'application/json'],
        ['Content-Length', String(deep.length)],
      ],
      body: deep,
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectJsonError(res, res.status, JSON.parse(res.body).error.code);
  });

  it('answers a body whose Content-Encoding does not decode with 400, an unknown one with 415', async () => {
    const garbage = Buffer.from('definitely not compressed');
    for (const encoding of ['gzip', 'deflate', 'br']) {
      const e = expectJsonError(
        await post('/api/keys', garbage, [['Content-Encoding', encoding]]),
        400,
        'MALFORMED_REQUEST',
      );
      expect(e.message).toContain(encoding);
    }
    const truncated = zlib.gzipSync('{"name":"t","role":"viewer"}').subarray(0, 12);
    expectJsonError(
      await post('/api/keys', truncated, [['Content-Encoding', 'gzip']]),
      400,
      'MALFORMED_REQUEST',
    );
    expectJsonError(
      await post('/api/keys', garbage, [['Content-Encoding', 'compress']]),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    const good = zlib.gzipSync('{"name":"gzipped","role":"viewer"}');
    expect((await post('/api/keys', good, [['Content-Encoding', 'gzip']])).status).toBe(201);
  });
});

describe("Node's own answers", () => {
  it('answers what its parser refuses in the JSON shape with a fresh request id', async () => {
    const cases: Array<[Buffer | RawRequest, number, string]> = [
      [
        {
          method: 'GET',
          target: '/health',
          headers: [
            ['Host', 'x'],
            ['X-Big', 'a'.repeat(20_000)],
          ],
        },
        431,
        'HEADERS_TOO_LARGE',
      ],
      [
        {
          method: 'GET',
          target: '/health',
          headers: [
            ['Host', 'x'],
            ['X-A', 'a\u0000b'],
          ],
        },
        400,
        'MALFORMED_REQUEST',
      ],
      [{ method: 'FOO', target: '/health', headers: [['Host', 'x']] }, 400, 'MALFORMED_REQUEST'],
      [
        { method: 'GET', target: '/health', version: 'HTTP/3.0', headers: [['Host', 'x']] },
        400,
        'MALFORMED_REQUEST',
      ],
      [
        {
          method: 'POST',
          target: '/api/keys',
          headers: [
            ['Host', 'x'],
            ['Content-Length', '1'],
            ['Content-Length', '2'],
          ],
        },
        400,
        'MALFORMED_REQUEST',
      ],
      [Buffer.from('GET /health HTTP/1.1\nHost: x\n\n'), 400, 'MALFORMED_REQUEST'],
      [Buffer.from('\x16\x03\x01\x00\xa5\x01\x00'), 400, 'MALFORMED_REQUEST'],
      [{ method: 'GET', target: '/health', headers: [] }, 400, 'MALFORMED_REQUEST'],
      [
        {
          method: 'GET',
          target: '/health',
          headers: [
            ['Host', 'x'],
            ['Expect', 'tea'],
          ],
        },
        417,
        'EXPECTATION_FAILED',
      ],
      [
        { method: 'CONNECT', target: 'example.com:443', headers: [['Host', 'example.com:443']] },
        400,
        'MALFORMED_REQUEST',
      ],
    ];
    const ids = new Set<string>();
    for (const [request, status, code] of cases) {
      const res = await rawRequest(port, request);
      const e = expectJsonError(res, status, code);
      ids.add(e.requestId);
    }
    expect(ids.size).toBe(cases.length);
  });

  it('answers a request that does not arrive in time with 408 JSON', async () => {
    const logger = createLogger({
      level: 'silent',
      version: 'test',
      destination: captureLogs().stream,
    });
    const server = http.createServer(
      { connectionsCheckingInterval: 50, headersTimeout: 200, requestTimeout: 200 },
      (_req, res) => res.end('never'),
    );
    installServerEdge(server, logger);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await rawRequest(
        (server.address() as AddressInfo).port,
        Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n'),
      );
      expectJsonError(res, 408, 'REQUEST_TIMEOUT');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
