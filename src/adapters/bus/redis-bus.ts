// The distributed EventBus: Redis pub/sub on one channel, so an SSE stream on any API replica sees
// events a worker appended, and a cancel sent to any replica aborts the calls wherever they run.
// Messages are hints (the durable record is the event log): a message lost while Redis is down is
// made good by readers re-reading the log. So nothing waits on Redis here: the bus is usable at
// once (it subscribes whenever Redis answers, again after each reconnect), and publishing is fire
// and forget, logged once per outage.
import { Redis } from 'ioredis';
import type { BusMessage, EventBus } from '../../ports/event-bus.js';
import type { Logger } from '../../ports/logger.js';
import { closeRedisClient, failFastOptions, redisBackoff } from '../redis/redis-client.js';

export interface RedisBusOptions {
  redisUrl: string;
  /** The channel is `<prefix>:bus`. */
  prefix: string;
  logger: Logger;
  /** Longest wait between reconnect attempts. */
  reconnectMaxMs?: number;
  /** Longest wait for Redis to take a published message. */
  commandTimeoutMs?: number;
}

function isBusMessage(v: unknown): v is BusMessage {
  if (!v || typeof v !== 'object') return false;
  const m = v as Record<string, unknown>;
  if (typeof m.swarmId !== 'string') return false;
  return m.kind === 'cancel' || (m.kind === 'events' && typeof m.lastSeq === 'number');
}

export async function createRedisBus(options: RedisBusOptions): Promise<EventBus> {
  const { logger } = options;
  const channel = `${options.prefix}:bus`;
  const pub = new Redis(
    options.redisUrl,
    failFastOptions({
      maxBackoffMs: options.reconnectMaxMs,
      commandTimeoutMs: options.commandTimeoutMs,
      offlineQueue: true,
    }),
  );
  // The subscriber waits for Redis as long as it takes: it has nothing to answer meanwhile.
  const sub = new Redis(options.redisUrl, {
    maxRetriesPerRequest: null,
    retryStrategy: redisBackoff(options.reconnectMaxMs),
  });
  for (const c of [pub, sub])
    c.on('error', (err: Error) =>
      logger.debug({ err: { message: err.message } }, 'bus redis error'),
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
  // Sent once Redis answers (ioredis subscribes again by itself after a reconnect); until then
  // streams rely on their heartbeat re-reading the log.
  sub.subscribe(channel).catch((err: unknown) => {
    logger.warn({ err, channel }, 'bus not subscribed; event streams fall back on polling');
  });

  let failing = false;
  const published = () => {
    if (failing) logger.info('bus messages published again');
    failing = false;
  };
  const lost = (err: unknown, kind: BusMessage['kind']) => {
    // A hint lost: streams and cancellation fall back on the log (see the module comment).
    if (!failing)
      logger.warn(
        { err, kind },
        'bus message not published; further losses are not logged until it works again',
      );
    failing = true;
  };

  // "New events" hints are coalesced: the newest seq of each swarm, sent once per turn of the
  // event loop in one pipeline (a group commit finishes many appends at once).
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
    if (failed) lost(failed, 'events');
    else published();
  };
  const flushSoon = () => {
    flushing ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(flush)
      .catch((err: unknown) => lost(err, 'events'))
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
      pub
        .publish(channel, JSON.stringify(message))
        .then(published, (err: unknown) => lost(err, message.kind));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      await flushing;
      listeners.clear();
      await Promise.all([pub, sub].map((c) => closeRedisClient(c)));
    },
  };
}
