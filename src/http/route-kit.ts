// What every API router receives from createApp: the auth guard, the JSON body parser and the
// response cache.
import type { RequestHandler } from 'express';
import type { createAuth } from './middleware/auth.js';

export interface RouteKit {
  auth: ReturnType<typeof createAuth>;
  /** Parses a JSON body within the configured limit; put it after the auth guard. */
  json: RequestHandler;
  /**
   * Caches the route's 200 JSON answers (`cache:<originalUrl>`); put it after the role guard, and
   * only on routes whose answer is the same for every caller the guard admits.
   */
  cached: (route: string) => RequestHandler;
  /** Drops cached answers under a path (after a write that changes them). */
  invalidate: (pathPrefix: string) => Promise<void>;
}
