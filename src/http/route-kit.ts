// What every API router receives from createApp: the auth guard and the JSON body parser.
import type { RequestHandler } from 'express';
import type { createAuth } from './middleware/auth.js';

export interface RouteKit {
  auth: ReturnType<typeof createAuth>;
  /** Parses a JSON body within the configured limit; put it after the auth guard. */
  json: RequestHandler;
}
