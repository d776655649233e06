// Accepts a caller's X-Request-Id (when it is a sane token) or makes one, echoes it on the
// response and keeps it in res.locals.requestId, where the access log, the error handler, the
// authentication log and the routes (events, audit log, the engine) take it from.
//
// Not an AsyncLocalStorage context: one in use anywhere makes every promise of the process pay
// for propagating it (a tenth of the engine's CPU per task under load), so the id is passed on.
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(header = 'x-request-id'): RequestHandler {
  return function requestIdMiddleware(req, res, next) {
    const incoming = req.get(header);
    const id = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
}
