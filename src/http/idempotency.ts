// `Idempotency-Key` on submissions (the IETF httpapi draft's header): a client retrying a request
// whose answer it lost sends the same key, and gets the first result instead of a duplicate.
// Here: the key's rules, and the hash that tells a retry from a different request under one key.
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import stringify from 'safe-stable-stringify';
import { ValidationError } from '../domain/errors.js';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** 1-255 printable ASCII characters (space to tilde). */
const KEY = /^[\x20-\x7e]{1,255}$/;

/** The request's key, undefined without one; a malformed or repeated header is a 400. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const values = req.headersDistinct[IDEMPOTENCY_HEADER.toLowerCase()];
  if (values === undefined) return undefined;
  const problem =
    values.length > 1
      ? `send one ${IDEMPOTENCY_HEADER} header, not ${values.length}`
      : !KEY.test(values[0] ?? '')
        ? `${IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters`
        : undefined;
  if (problem)
    throw new ValidationError(`The ${IDEMPOTENCY_HEADER} header is invalid: ${problem}`, [
      { path: IDEMPOTENCY_HEADER, message: problem },
    ]);
  return values[0];
}

/** The same request body, whatever its key order or spacing, has the same hash. */
export function requestHash(body: unknown): string {
  return createHash('sha256')
    .update(stringify(body) ?? '')
    .digest('hex');
}
