// The one place that turns errors into HTTP answers: AppError codes map to statuses here, body
// parser failures get clear codes, and anything unknown becomes a logged 500 with no internals.
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { AppError, type ErrorCode } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';
import { redactUrl } from '../observability/redact.js';
import { isUnreachable } from '../domain/unreachable.js';

const STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  MALFORMED_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  EXPECTATION_FAILED: 417,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  TOO_MANY_STREAMS: 429,
  CLIENT_BLOCKED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  DATA_DIR_LOCKED: 503,
};

export function statusFor(code: ErrorCode): number {
  return STATUS[code];
}

/** The one error body: `{"error":{"code","message","requestId"[,"details"]}}`. */
export function errorBody(
  code: string,
  message: string,
  requestId: string | null,
  details?: Readonly<Record<string, unknown>>,
) {
  return { error: { code, message, requestId, ...(details ? { details } : {}) } };
}

export function sendError(
  res: Response,
  status: number,
  code: string,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): void {
  res
    .status(status)
    .json(errorBody(code, message, (res.locals.requestId as string | undefined) ?? null, details));
}

/** body-parser reports its failures as errors with a `type`; translate them to our codes. */
function fromBodyParser(err: unknown): AppError | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  switch (type) {
    case 'entity.parse.failed':
      return new AppError('MALFORMED_JSON', 'The request body is not valid JSON');
    case 'entity.too.large': {
      const limit = (err as { limit?: number }).limit;
      return new AppError(
        'PAYLOAD_TOO_LARGE',
        `The request body is larger than the limit${limit ? ` of ${limit} bytes` : ''}`,
      );
    }
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'The request body encoding is not supported');
    case 'request.aborted':
      return new AppError('VALIDATION_FAILED', 'The request was aborted by the client');
    default:
      return undefined;
  }
}

/**
 * Other client errors the libraries raise as http-errors with a 4xx status (a body whose
 * Content-Encoding does not decode, a body shorter than its Content-Length, a path parameter
 * with malformed percent-encoding): a 4xx with our code, never the 500 of an unknown error.
 */
function fromClientHttpError(err: unknown, req: Request): AppError | undefined {
  const e = err as { status?: unknown; type?: unknown } | null;
  if (typeof e?.status !== 'number' || e.status < 400 || e.status > 499) return undefined;
  if (err instanceof URIError)
    return new AppError('MALFORMED_REQUEST', 'The path has malformed percent-encoding');
  if (e.status === 413) return new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large');
  if (e.status === 415)
    return new AppError('UNSUPPORTED_MEDIA_TYPE', 'The request body encoding is not supported');
  const encoding = req.get('content-encoding');
  if (e.type === undefined && encoding && encoding.toLowerCase() !== 'identity')
    return new AppError(
      'MALFORMED_REQUEST',
      `The request body could not be decoded as Content-Encoding: ${encoding}`,
    );
  return new AppError(
    'MALFORMED_REQUEST',
    e.type === 'request.size.invalid'
      ? 'The request body does not match its Content-Length'
      : 'The request could not be read',
  );
}

/**
 * A dependency that cannot be reached (a database or Redis connection refused, reset or timed
 * out) is the service being unavailable for a while, not a bug: 503, so clients retry.
 */
function fromUnreachable(err: unknown): AppError | undefined {
  if (!isUnreachable(err)) return undefined;
  return new AppError(
    'SERVICE_UNAVAILABLE',
    'A dependency of the service is unreachable; retry shortly (GET /health shows which)',
    { cause: err },
  );
}

/**
 * The end of the route chain: a path some route serves with other methods is 405 with Allow
 * (`allowed` says which, from the app's route table), any other 404.
 */
export function notFound(allowed?: (path: string) => readonly string[]): RequestHandler {
  return function notFoundHandler(req, res, next) {
    const methods = allowed?.(req.path) ?? [];
    if (methods.length) {
      res.setHeader('Allow', methods.join(', '));
      next(
        new AppError(
          'METHOD_NOT_ALLOWED',
          `${req.method} is not allowed here; use ${methods.join(', ')}`,
          {
            details: { allow: methods },
          },
        ),
      );
      return;
    }
    next(new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}`));
  };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return function errorHandlerMiddleware(err, req, res, next) {
    if (res.headersSent) {
      next(err);
      return;
    }
    const appError =
      err instanceof AppError
        ? err
        : (fromBodyParser(err) ?? fromClientHttpError(err, req) ?? fromUnreachable(err));
    if (appError) {
      const status = statusFor(appError.code);
      if (status >= 500) logger.error({ err, requestId: res.locals.requestId }, appError.message);
      if (appError.details?.retryAfterSeconds) {
        res.setHeader('Retry-After', String(appError.details.retryAfterSeconds));
      }
      sendError(res, status, appError.code, appError.message, appError.details);
      return;
    }
    logger.error(
      {
        err,
        method: req.method,
        url: redactUrl(req.originalUrl),
        requestId: res.locals.requestId,
      },
      'unhandled error',
    );
    sendError(
      res,
      500,
      'INTERNAL',
      'Internal server error. Quote the request id when reporting it.',
    );
  };
}
