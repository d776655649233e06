// The Redis connection (ioredis, as BullMQ uses) with bounded reconnect backoff, and its health probe.
import { Redis } from 'ioredis';
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
}

/** ioredis retryStrategy: 50 ms doubling per attempt, at most `maxMs` between attempts. */
export const redisBackoff =
  (maxMs = 5000) =>
  (times: number) =>
    Math.min(50 * 2 ** Math.min(times, 10), maxMs);

export function connectRedis(options: RedisOptions): RedisConnection {
  const maxBackoff = options.maxBackoffMs ?? 5000;
  const client = new Redis(options.url, {
    lazyConnect: false,
    // Commands fail fast while disconnected instead of queueing forever: health must say "down".
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: redisBackoff(maxBackoff),
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
      async check() {
        const pong = await client.ping();
        if (pong !== 'PONG') throw new Error(`unexpected PING reply ${pong}`);
      },
    },
    async close() {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
