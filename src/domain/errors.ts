// One error base for the whole service. Codes are string literals; http/error-handler.ts is the
// only place that maps them to HTTP statuses, so domain code never knows about HTTP.

export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'MALFORMED_JSON'
  | 'MALFORMED_REQUEST'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'REQUEST_TIMEOUT'
  | 'CONFLICT'
  | 'EXPECTATION_FAILED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'RATE_LIMITED'
  | 'TOO_MANY_STREAMS'
  | 'CLIENT_BLOCKED'
  | 'HEADERS_TOO_LARGE'
  | 'SERVICE_UNAVAILABLE'
  | 'DATA_DIR_LOCKED'
  | 'INTERNAL';

export interface AppErrorOptions {
  cause?: unknown;
  details?: Readonly<Record<string, unknown>>;
}

export class AppError extends Error {
  readonly details: Readonly<Record<string, unknown>> | undefined;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.details = options.details;
  }
}

export class NotFoundError extends AppError {
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    super('NOT_FOUND', `${resource} ${id} not found`);
    this.name = 'NotFoundError';
  }
}

export class ValidationError extends AppError {
  constructor(message: string, issues?: ReadonlyArray<{ path: string; message: string }>) {
    super('VALIDATION_FAILED', message, issues ? { details: { issues } } : {});
    this.name = 'ValidationError';
  }
}
