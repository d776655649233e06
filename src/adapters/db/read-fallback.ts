// Reads meant for the read replica (DATABASE_READ_URL) go to the primary while the replica cannot
// be reached, and back to the replica once it answers again (checked in the background), so a
// replica outage degrades the service instead of failing its reads. Only "cannot reach" errors
// fall back: a query the replica refuses for another reason fails as it would on the primary.
import type pg from 'pg';
import { isUnreachable } from '../../domain/unreachable.js';
import type { Logger } from '../../ports/logger.js';

export interface ReadFallbackOptions {
  replica: pg.Pool;
  primary: pg.Pool;
  logger: Logger;
  /** How often a replica that failed is tried again in the background. */
  retryMs?: number;
}

export interface ReadFallback {
  /** Stands for a pg.Pool under Drizzle (its class name says Pool, as Drizzle checks). */
  readonly pool: pg.Pool;
  /** False while reads go to the primary. */
  readonly usingReplica: boolean;
  close(): void;
}

type Query = (...args: unknown[]) => Promise<unknown>;

export function createReadFallback(options: ReadFallbackOptions): ReadFallback {
  const { replica, primary, logger } = options;
  const retryMs = options.retryMs ?? 2000;
  let usingReplica = true;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      replica.query('select 1').then(() => {
        if (closed) return;
        usingReplica = true;
        logger.info('read replica answers again; reads go to it');
      }, schedule);
    }, retryMs);
    timer.unref();
  };
  const fallBack = (err: unknown) => {
    if (!usingReplica) return;
    usingReplica = false;
    logger.warn(
      { err },
      'read replica unreachable; reads go to the primary until it answers again',
    );
    schedule();
  };
  const run = async <T>(onReplica: () => Promise<T>, onPrimary: () => Promise<T>): Promise<T> => {
    if (!usingReplica) return onPrimary();
    try {
      return await onReplica();
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      fallBack(err);
      return onPrimary();
    }
  };

  class ReadFallbackPool {
    query(...args: unknown[]) {
      return run(
        () => (replica.query as Query)(...args),
        () => (primary.query as Query)(...args),
      );
    }
    connect() {
      return run(
        () => replica.connect(),
        () => primary.connect(),
      );
    }
  }

  return {
    pool: new ReadFallbackPool() as unknown as pg.Pool,
    get usingReplica() {
      return usingReplica;
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
