// The Redis connection (ioredis, as BullMQ uses) with bounded reconnect backoff, and its health probe.
// Connections that requests wait on fail fast: at once while disconnected, after a command timeout
// while Redis is stalled (a partition keeps the socket open but answers nothing).
import { Redis, type RedisOptions as IoRedisOptions } from 'ioredis';
import type { HealthProbe } from '../../ports/health-check.js';
import type { Logger } from '../../ports/logger.js';

export interface RedisConnection {
  readonly client: Redis;
  readonly probe: HealthProbe;
  close(): Promise<void>;
}

export interface RedisOptions {
  url: string;
  logger: Logger;
  /** Longest wait between reconnect attempts. */
  maxBackoffMs?: number;
  /** Longest wait for a reply before a command fails. */
  commandTimeoutMs?: number;
}

/** ioredis retryStrategy: 50 ms doubling per attempt, at most `maxMs` between attempts. */
export const redisBackoff =
  (maxMs = 5000) =>
  (times: number) =>
    Math.min(50 * 2 ** Math.min(times, 10), maxMs);

/**
 * Options of a connection that callers wait on (never a blocking or subscriber one): a command
 * timeout, so a Redis that stops answering fails commands instead of holding them forever, and
 * one retry per command. Without an offline queue (the default) a command fails at once while
 * disconnected, as the health probe and the request path need; with one (producing jobs,
 * publishing) a command sent while the connection is still being made waits for it, but no
 * longer than the command timeout, nor past the next failed reconnect attempt.
 */
export function failFastOptions(
  options: {
    maxBackoffMs?: number | undefined;
    commandTimeoutMs?: number | undefined;
    offlineQueue?: boolean;
  } = {},
): IoRedisOptions {
  return {
    enableOfflineQueue: options.offlineQueue ?? false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    retryStrategy: redisBackoff(options.maxBackoffMs),
  };
}

/**
 * Closes a connection without waiting on a Redis that is away: QUIT when connected (bounded, as
 * it waits for a reply), else a plain disconnect (a QUIT would wait in the offline queue).
 */
export async function closeRedisClient(client: Redis, timeoutMs = 1000): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('QUIT timed out')), timeoutMs);
      }),
    ]);
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

export function connectRedis(options: RedisOptions): RedisConnection {
  const client = new Redis(options.url, {
    lazyConnect: false,
    ...failFastOptions({
      maxBackoffMs: options.maxBackoffMs,
      commandTimeoutMs: options.commandTimeoutMs,
    }),
  });
  let lastState = 'connecting';
  client.on('error', (err: Error) => {
    if (lastState !== 'error')
      options.logger.warn({ err: { message: err.message } }, 'redis error');
    lastState = 'error';
  });
  client.on('ready', () => {
    if (lastState === 'error') options.logger.info('redis connection restored');
    lastState = 'ready';
  });
  return {
    client,
    probe: {
      name: 'redis',
      // Without Redis the API still serves (reads, saved submissions); jobs wait for it.
      required: false,
      async check() {
        const pong = await client.ping();
        if (pong !== 'PONG') throw new Error(`unexpected PING reply ${pong}`);
      },
    },
    close: () => closeRedisClient(client),
  };
}
