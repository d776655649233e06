// The providers' fetch against a loopback HTTP server: what a JSON answer looks like through it
// (the subset of Response the SDKs use), event streams kept as streams, and the attempt counter.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAttemptCounter, createUndiciFetch } from './provider-fetch.js';

let server: Server;
let base: string;
const seen: { method: string; url: string; headers: Record<string, unknown>; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/json') {
        res.setHeader('content-type', 'application/json');
        res.setHeader('Request-Id', 'req_1');
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.end(JSON.stringify({ echo: body, ok: 'é' }));
      } else if (req.url === '/empty') {
        res.statusCode = 204;
        res.end();
      } else if (req.url === '/limited') {
        res.statusCode = 429;
        res.setHeader('retry-after', '2');
        res.end('{"error":"slow down"}');
      } else if (req.url === '/sse') {
        res.setHeader('content-type', 'text/event-stream');
        res.write('data: one\n\n');
        setTimeout(() => res.end('data: two\n\n'), 20);
      } else {
        res.statusCode = 404;
        res.end('not here');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('createUndiciFetch', () => {
  const fetch = createUndiciFetch({ connections: 4 });

  it('answers JSON with status, headers read case-insensitively, and a body read once', async () => {
    const res = await fetch(`${base}/json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Test': 'yes' },
      body: '{"q":1}',
    });
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.url).toBe(`${base}/json`);
    expect(res.headers.get('request-id')).toBe('req_1');
    expect(res.headers.get('REQUEST-ID')).toBe('req_1');
    expect(res.headers.get('missing')).toBeNull();
    expect(res.headers.has('Content-Type')).toBe(true);
    expect(res.headers.get('set-cookie')).toBe('a=1, b=2');
    const names = [...res.headers.entries()].map(([k]) => k);
    expect(names).toEqual([...names].sort());
    expect(names).toContain('request-id');
    const copy = res.clone();
    expect(await res.json()).toEqual({ echo: '{"q":1}', ok: 'é' });
    expect(res.bodyUsed).toBe(true);
    await expect(res.text()).rejects.toThrow(/already been read/);
    expect(() => res.clone()).toThrow(TypeError);
    expect(new TextDecoder().decode(await copy.arrayBuffer())).toBe(
      JSON.stringify({ echo: '{"q":1}', ok: 'é' }),
    );
    const last = seen[seen.length - 1]!;
    expect(last).toMatchObject({ method: 'POST', url: '/json', body: '{"q":1}' });
    expect(last.headers['x-test']).toBe('yes');
  });

  it('takes Headers objects and header pairs', async () => {
    await fetch(`${base}/json`, { method: 'POST', headers: new Headers({ 'X-A': '1' }), body: '' });
    expect(seen[seen.length - 1]!.headers['x-a']).toBe('1');
    await fetch(`${base}/json`, { method: 'POST', headers: [['X-B', '2']], body: '' });
    expect(seen[seen.length - 1]!.headers['x-b']).toBe('2');
  });

  it('gives error answers their status, headers and text', async () => {
    const res = await fetch(`${base}/limited`);
    expect(res.ok).toBe(false);
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBe('2');
    expect(await res.text()).toBe('{"error":"slow down"}');
    const missing = await fetch(`${base}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('not here');
  });

  it('answers 204 with an empty body', async () => {
    const res = await fetch(`${base}/empty`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('keeps an event stream a stream, delivered as it arrives', async () => {
    const res = await fetch(`${base}/sse`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.body).not.toBeNull();
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: one\n\n');
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value);
    expect(rest).toBe('data: two\n\n');
  });

  it('passes an abort to the request', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(fetch(`${base}/json`, { signal: ac.signal })).rejects.toThrow();
  });
});

describe('createAttemptCounter', () => {
  it('counts the attempts of one call and strips its header', async () => {
    const counter = createAttemptCounter(createUndiciFetch({ connections: 2 }));
    const call = counter.begin();
    await counter.fetch(`${base}/limited`, { headers: call.headers });
    await counter.fetch(`${base}/json`, { headers: call.headers });
    expect(call.attempts()).toBe(2);
    expect(Object.keys(seen[seen.length - 1]!.headers)).not.toContain('x-cfn-attempt-counter');
    call.end();
    expect(call.attempts()).toBe(0);
  });
});
