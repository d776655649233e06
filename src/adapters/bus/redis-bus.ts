// The distributed EventBus: Redis pub/sub on one channel, so an SSE stream on any API replica sees
// events a worker appended, and a cancel sent to any replica aborts the calls wherever they run.
// Messages are hints (the durable record is the event log): a message lost while Redis is down is
// made good by readers re-reading the log.
import { Redis } from 'ioredis';
import type { BusMessage, EventBus } from '../../ports/event-bus.js';
import type { Logger } from '../../ports/logger.js';
import { redisBackoff } from '../redis/redis-client.js';

export interface RedisBusOptions {
  redisUrl: string;
  /** The channel is `<prefix>:bus`. */
  prefix: string;
  logger: Logger;
  /** Longest wait between reconnect attempts. */
  reconnectMaxMs?: number;
}

function isBusMessage(v: unknown): v is BusMessage {
  if (!v || typeof v !== 'object') return false;
  const m = v as Record<string, unknown>;
  if (typeof m.swarmId !== 'string') return false;
  return m.kind === 'cancel' || (m.kind === 'events' && typeof m.lastSeq === 'number');
}

export async function createRedisBus(options: RedisBusOptions): Promise<EventBus> {
  const channel = `${options.prefix}:bus`;
  const retryStrategy = redisBackoff(options.reconnectMaxMs);
  const pub = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, retryStrategy });
  const sub = new Redis(options.redisUrl, { maxRetriesPerRequest: null, retryStrategy });
  for (const c of [pub, sub])
    c.on('error', (err: Error) =>
      options.logger.debug({ err: { message: err.message } }, 'bus redis error'),
    );
  const listeners = new Set<(m: BusMessage) => void>();
  sub.on('message', (ch: string, raw: string) => {
    if (ch !== channel) return;
    let msg: unknown;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (!isBusMessage(msg)) return;
    for (const l of listeners) l(msg);
  });
  // ioredis subscribes again by itself after a reconnect.
  await sub.subscribe(channel);
  return {
    async publish(message) {
      try {
        await pub.publish(channel, JSON.stringify(message));
      } catch (err) {
        // A hint lost: streams and cancellation fall back on the log (see the module comment).
        options.logger.warn({ err, kind: message.kind }, 'bus message not published');
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      await Promise.all([pub, sub].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
