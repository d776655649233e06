// Refuses requests whose shape is broken before any route sees them: an HTTP/1.1 request without
// Host, a path with malformed percent-encoding or a NUL, a query value that cannot be stored.
// Each is a 400 in the JSON error shape, never an exception deep in a route (a 500).
import type { RequestHandler } from 'express';
import { AppError, ValidationError } from '../../domain/errors.js';
import { findUnsafeString } from '../safe-strings.js';

export function requestShape(): RequestHandler {
  return function requestShapeMiddleware(req, _res, next) {
    // Node's own check answers with an empty body, so the server leaves it to this one.
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      return next(new AppError('MALFORMED_REQUEST', 'An HTTP/1.1 request needs a Host header'));
    }
    let path: string;
    try {
      path = decodeURIComponent(req.path);
    } catch {
      return next(
        new AppError(
          'MALFORMED_REQUEST',
          'The path has malformed percent-encoding (a % not followed by two hex digits of UTF-8)',
        ),
      );
    }
    if (path.includes('\0')) {
      return next(
        new ValidationError('The path is invalid', [
          { path: 'path', message: 'contains a NUL character (%00)' },
        ]),
      );
    }
    const bad = findUnsafeString(req.query);
    if (bad) {
      return next(
        new ValidationError(`Query parameter ${bad.path} is invalid: it ${bad.problem}`, [
          { path: bad.path, message: bad.problem },
        ]),
      );
    }
    next();
  };
}
