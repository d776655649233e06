// Accepts a caller's X-Request-Id (when it is a sane token) or makes one, echoes it on the
// response, and runs the rest of the request inside its context so every log line carries it.
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { runWithContext } from '../../observability/request-context.js';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(header = 'x-request-id'): RequestHandler {
  return function requestIdMiddleware(req, res, next) {
    const incoming = req.get(header);
    const id = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    runWithContext({ requestId: id }, next);
  };
}
