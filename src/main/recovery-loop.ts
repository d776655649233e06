// Keeps unfinished swarms moving when the queue is away: the start-up pass never stops the start
// (a failed one, Redis being down, is retried in the background until one succeeds), and with
// Redis a periodic sweep queues again the swarms whose jobs a Redis restart lost.
import type { Logger } from '../ports/logger.js';

export interface RecoveryLoopOptions {
  /** One pass: queues the open work of every unfinished swarm (the engine's recover). */
  recover(options?: { quiet?: boolean }): Promise<number>;
  logger: Logger;
  /** Sweep every this many ms (distributed profile); absent: no sweep. */
  sweepMs?: number | undefined;
  /** Wait before the first retry of a failed start-up pass; it doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface RecoveryLoop {
  stop(): void;
}

export async function startRecoveryLoop(options: RecoveryLoopOptions): Promise<RecoveryLoop> {
  const { recover, logger } = options;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let running = false;

  /** One pass at a time: a sweep that finds a pass still running (Redis stalled) skips a turn. */
  const pass = async (quiet: boolean): Promise<{ err?: unknown } | undefined> => {
    if (running) return undefined;
    running = true;
    try {
      await recover({ quiet });
      return {};
    } catch (err) {
      return { err: err ?? new Error('recovery failed') };
    } finally {
      running = false;
    }
  };

  const retry = (delayMs: number) => {
    retryTimer = setTimeout(async () => {
      if (stopped) return;
      const outcome = await pass(false);
      if (outcome && !outcome.err)
        logger.info('unfinished swarms resumed after a failed start-up pass');
      else if (!stopped) retry(Math.min(delayMs * 2, options.maxRetryMs ?? 30_000));
    }, delayMs);
    retryTimer.unref();
  };

  const first = await pass(false);
  if (first?.err) {
    logger.warn(
      { err: first.err },
      'could not resume unfinished swarms at start (is the queue away?); retrying in the background',
    );
    retry(options.retryMs ?? 1000);
  }

  if (options.sweepMs) {
    let failing = false;
    sweepTimer = setInterval(async () => {
      const outcome = await pass(true);
      if (!outcome) return;
      if (outcome.err && !failing) {
        logger.warn(
          { err: outcome.err },
          'periodic recovery failed; trying again every sweep, logged again once it works',
        );
        failing = true;
      } else if (!outcome.err && failing) {
        logger.info('periodic recovery works again');
        failing = false;
      }
    }, options.sweepMs);
    sweepTimer.unref();
  }

  return {
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(sweepTimer);
    },
  };
}
