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

  // "New events" hints are coalesced: the newest seq of each swarm, sent once per turn of the
  // event loop in one pipeline (a group commit finishes many appends at once), and the appending
  // step does not wait for Redis.
  const newest = new Map<string, number>();
  let flushing: Promise<void> | undefined;
  const flush = async () => {
    const batch = [...newest];
    newest.clear();
    const p = pub.pipeline();
    for (const [swarmId, lastSeq] of batch)
      p.publish(channel, JSON.stringify({ kind: 'events', swarmId, lastSeq }));
    const results = await p.exec().catch((err: unknown) => [[err]] as Array<[unknown]>);
    const failed = results?.find(([err]) => err)?.[0];
    // A hint lost: streams fall back on the log (see the module comment).
    if (failed) options.logger.warn({ err: failed, kind: 'events' }, 'bus message not published');
  };
  const flushSoon = () => {
    flushing ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(flush)
      .catch((err: unknown) => options.logger.warn({ err }, 'bus messages not published'))
      .finally(() => {
        flushing = undefined;
        if (newest.size) flushSoon();
      });
  };

  return {
    async publish(message) {
      if (message.kind === 'events') {
        newest.set(message.swarmId, Math.max(newest.get(message.swarmId) ?? 0, message.lastSeq));
        flushSoon();
        return;
      }
      try {
        await pub.publish(channel, JSON.stringify(message));
      } catch (err) {
        // A hint lost: cancellation falls back on the log (see the module comment).
        options.logger.warn({ err, kind: message.kind }, 'bus message not published');
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      await flushing;
      listeners.clear();
      await Promise.all([pub, sub].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
