// The JSON body parser every API route uses, plus the edge check on what it parsed: a string
// (or field name) the database cannot store is a 400 naming the field, before any route code.
import express, { type RequestHandler } from 'express';
import { ValidationError } from '../../domain/errors.js';
import { findUnsafeString } from '../safe-strings.js';

export function jsonBody(options: { limit: string }): RequestHandler {
  const parse = express.json({ limit: options.limit, strict: true });
  return function jsonBodyMiddleware(req, res, next) {
    parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      const bad = findUnsafeString(req.body);
      if (bad) {
        return next(
          new ValidationError(`The request body is invalid: ${bad.path} ${bad.problem}`, [
            { path: bad.path, message: bad.problem },
          ]),
        );
      }
      next();
    });
  };
}
