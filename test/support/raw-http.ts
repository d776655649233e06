// A raw HTTP/1.1 client over one TCP connection per request: it sends the bytes it is given
// (any method, path, header or body, valid or not), so tests can send what fetch and
// node:http refuse to, and reads the answer with `Connection: close` semantics.
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Repeated headers keep every value. */
  headerList: Array<[string, string]>;
  body: string;
  /** The connection closed (or timed out) before a status line arrived. */
  noAnswer?: string;
}

export interface RawRequest {
  method: string;
  /** Sent verbatim in the request line. */
  target: string;
  version?: string;
  headers?: Array<[string, string]>;
  body?: Buffer | string;
}

/** The bytes of a request; a header value is written as is (latin1), NUL and CR included. */
export function encodeRequest(r: RawRequest): Buffer {
  const head =
    `${r.method} ${r.target} ${r.version ?? 'HTTP/1.1'}\r\n` +
    (r.headers ?? []).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
    '\r\n';
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Parses the first final response in `raw` (interim 1xx answers, such as `100 Continue`, are
 * skipped); undefined while its head is incomplete.
 */
export function parseResponse(
  raw: Buffer,
  headOnly = false,
): (RawResponse & { complete: boolean }) | undefined {
  let end = raw.indexOf('\r\n\r\n');
  while (end >= 0 && /^HTTP\/1\.[01] 1\d\d /.test(raw.subarray(0, 13).toString('latin1'))) {
    raw = raw.subarray(end + 4);
    end = raw.indexOf('\r\n\r\n');
  }
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headerList = lines.map((l): [string, string] => {
    const i = l.indexOf(':');
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  });
  const headers = Object.fromEntries(headerList);
  let body = raw.subarray(end + 4);
  let complete = headOnly || status === 204 || status === 304;
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    complete ||= body.includes('0\r\n\r\n');
    body = dechunk(body);
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    complete ||= body.length >= length;
    body = body.subarray(0, length);
  }
  return { status, headers, headerList, body: body.toString('utf8'), complete };
}

/**
 * Sends `request` (bytes, or a request to encode) and resolves with the answer once it is
 * complete or the server closes the connection, once the head of an event stream has arrived (a
 * stream never ends on its own), or after `timeoutMs` with what came so far.
 */
export function rawRequest(
  port: number,
  request: RawRequest | Buffer,
  timeoutMs = 10_000,
): Promise<RawResponse> {
  const bytes = Buffer.isBuffer(request) ? request : encodeRequest(request);
  const headOnly = !Buffer.isBuffer(request) && request.method.toUpperCase() === 'HEAD';
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (reason?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseResponse(Buffer.concat(chunks), headOnly);
      resolve(
        parsed ?? {
          status: 0,
          headers: {},
          headerList: [],
          body: Buffer.concat(chunks).toString('latin1'),
          noAnswer: reason ?? 'closed',
        },
      );
    };
    const timer = setTimeout(() => settle('timeout'), timeoutMs);
    socket.on('data', (d) => {
      chunks.push(d);
      const parsed = parseResponse(Buffer.concat(chunks), headOnly);
      if (parsed?.complete || parsed?.headers['content-type']?.startsWith('text/event-stream'))
        settle();
    });
    socket.on('end', () => settle());
    socket.on('close', () => settle());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may reset after answering (it stops reading a refused request): keep what came.
      settle(err.code);
    });
    socket.write(bytes);
  });
}
