// The one place that turns errors into HTTP answers: AppError codes map to statuses here, body
// parser failures get clear codes, and anything unknown becomes a logged 500 with no internals.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { AppError, type ErrorCode } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';
import { redactUrl } from '../observability/redact.js';

const STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  DATA_DIR_LOCKED: 503,
};

export function statusFor(code: ErrorCode): number {
  return STATUS[code];
}

export function sendError(
  res: Response,
  status: number,
  code: string,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): void {
  res.status(status).json({
    error: {
      code,
      message,
      requestId: res.locals.requestId ?? null,
      ...(details ? { details } : {}),
    },
  });
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

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

/**
 * A dependency that cannot be reached (a database or Redis connection refused, reset or timed
 * out) is the service being unavailable for a while, not a bug: 503, so clients retry.
 */
function fromUnreachable(err: unknown): AppError | undefined {
  for (
    let e: unknown = err, depth = 0;
    e && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    const message = String((e as { message?: unknown }).message ?? '');
    if (
      (typeof code === 'string' && UNREACHABLE.has(code)) ||
      /Connection terminated|timeout exceeded when trying to connect|Stream isn't writeable/.test(
        message,
      )
    )
      return new AppError(
        'SERVICE_UNAVAILABLE',
        'A dependency of the service is unreachable; retry shortly (GET /health shows which)',
        { cause: err },
      );
  }
  return undefined;
}

export function notFound(): RequestHandler {
  return function notFoundHandler(req, _res, next) {
    next(new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}`));
  };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return function errorHandlerMiddleware(err, req, res, next) {
    if (res.headersSent) {
      next(err);
      return;
    }
    const appError = err instanceof AppError ? err : (fromBodyParser(err) ?? fromUnreachable(err));
    if (appError) {
      const status = statusFor(appError.code);
      if (status >= 500) logger.error({ err, requestId: res.locals.requestId }, appError.message);
      if (appError.code === 'RATE_LIMITED' && appError.details?.retryAfterSeconds) {
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
