// Request validation with zod: failures become VALIDATION_FAILED with every issue listed.
import type { Request } from 'express';
import type { z } from 'zod';
import { AppError, ValidationError } from '../domain/errors.js';

function issuesOf(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
}

export function parseBody<S extends z.ZodType>(req: Request, schema: S): z.infer<S> {
  if (req.body === undefined) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      'Send a JSON body with Content-Type: application/json',
    );
  }
  const result = schema.safeParse(req.body);
  if (!result.success)
    throw new ValidationError('The request body is invalid', issuesOf(result.error));
  return result.data;
}

export function parseQuery<S extends z.ZodType>(req: Request, schema: S): z.infer<S> {
  const result = schema.safeParse(req.query);
  if (!result.success)
    throw new ValidationError('The query string is invalid', issuesOf(result.error));
  return result.data;
}
