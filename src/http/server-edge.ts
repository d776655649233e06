// What Node's HTTP server answers before Express sees a request: a request its parser refuses
// (bad syntax, headers too large, a timeout), an Expect it does not meet, and CONNECT. Node's own
// answers have empty bodies; these use the API's JSON error shape with a fresh request id.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';
import { errorBody, statusFor } from './error-handler.js';

interface ParserError extends Error {
  code?: string;
  reason?: string;
}

/** Node's parser error codes (llhttp's HPE_*, and its timeouts) to our codes. */
export function classifyClientError(err: ParserError): { code: ErrorCode; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'HEADERS_TOO_LARGE', message: 'The request headers are too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: 'PAYLOAD_TOO_LARGE', message: 'The chunk extensions are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        code: 'REQUEST_TIMEOUT',
        message: 'The request was not received in time',
      };
    case 'HPE_INVALID_VERSION':
      // A 400, not 505: the answer to a client's bytes is never a 5xx.
      return {
        code: 'MALFORMED_REQUEST',
        message: `The request is not HTTP/1.x (${err.reason ?? 'invalid HTTP version'}); send HTTP/1.1`,
      };
    default:
      return {
        code: 'MALFORMED_REQUEST',
        message: `The request is not valid HTTP/1.1${err.reason ? ` (${err.reason})` : ''}`,
      };
  }
}

interface EdgeAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** An error answer in the API's shape, with a fresh request id (there is no request to echo). */
export function edgeAnswer(
  code: ErrorCode,
  message: string,
  extraHeaders: Record<string, string> = {},
): EdgeAnswer {
  const requestId = randomUUID();
  const body = JSON.stringify(errorBody(code, message, requestId));
  return {
    status: statusFor(code),
    body,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'X-Request-Id': requestId,
      'Cache-Control': 'no-store',
      Connection: 'close',
      ...extraHeaders,
    },
  };
}

/** How long a refused connection may linger for the client to read the answer and close. */
const LINGER_MS = 5000;

/** Writes the answer on a socket no ServerResponse owns, then closes it. */
function answerOnSocket(socket: Duplex, a: EdgeAnswer): void {
  const head =
    `HTTP/1.1 ${a.status} ${http.STATUS_CODES[a.status] ?? 'Error'}\r\n` +
    Object.entries(a.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
  // end(), not destroy(): closing at once with the client's bytes unread resets the
  // connection, and a reset can discard the answer before the client has read it.
  socket.end(`${head}\r\n${a.body}`);
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}

export function installServerEdge(server: http.Server, logger: Logger): void {
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    // A response already on its way on this connection (keep-alive, an event stream) cannot be
    // followed by another: close the connection, as Node does.
    const inProgress = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
      socket.destroy();
      return;
    }
    const { code, message } = classifyClientError(err);
    logger.debug({ code: err.code, answer: code }, 'refused a request Node could not parse');
    answerOnSocket(socket, edgeAnswer(code, message));
  });

  // Only `Expect: 100-continue` is met (Node answers it); any other expectation is 417.
  server.on('checkExpectation', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    const a = edgeAnswer('EXPECTATION_FAILED', 'Only "Expect: 100-continue" is supported');
    res.writeHead(a.status, a.headers).end(a.body);
  });

  // Node emits CONNECT apart from requests and, with no listener, drops the connection unanswered.
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    answerOnSocket(
      socket,
      edgeAnswer('MALFORMED_REQUEST', 'CONNECT is not supported: this service is not a proxy'),
    );
  });
}
