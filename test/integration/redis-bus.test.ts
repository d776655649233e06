// The Redis event bus on a redis-server of the test's own: made while Redis is down it is usable
// at once (publishing never waits nor throws), subscribes once Redis answers, carries messages
// between two buses of one prefix only, and closes without waiting for a Redis that is away.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisBus } from '../../src/adapters/bus/redis-bus.js';
import { createLogger } from '../../src/observability/logger.js';
import type { BusMessage, EventBus } from '../../src/ports/event-bus.js';
import { eventually } from '../support/eventually.js';
import { captureLogs } from '../support/log-capture.js';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.js';

const logs = captureLogs();
const logger = createLogger({ level: 'debug', version: 'test', destination: logs.stream });
let redis: ThrowawayRedis;
const buses: EventBus[] = [];
beforeAll(async () => {
  redis = await startThrowawayRedis();
});
afterAll(async () => {
  for (const b of buses) await b.close();
  await redis?.stop();
});

const bus = async (prefix: string) => {
  const b = await createRedisBus({
    redisUrl: redis.url,
    prefix,
    logger,
    reconnectMaxMs: 200,
    commandTimeoutMs: 300,
  });
  buses.push(b);
  return b;
};

it('is made and publishes with Redis down, then carries messages within its prefix once Redis is up', async () => {
  await redis.stop();
  const [sender, receiver, other] = await Promise.all([bus('a'), bus('a'), bus('b')]);
  const got: BusMessage[] = [];
  const crossed: BusMessage[] = [];
  receiver.subscribe((m) => got.push(m));
  other.subscribe((m) => crossed.push(m));
  await sender.publish({ kind: 'cancel', swarmId: 'lost' }); // resolves: a hint, not a promise
  await eventually('the loss logged', () => logs.text().includes('bus message not published'));
  await redis.start();
  // Once Redis answers the receiver subscribes by itself; hints sent meanwhile are simply lost.
  await eventually('a message through', async () => {
    await sender.publish({ kind: 'cancel', swarmId: 's1' });
    return got.some((m) => m.kind === 'cancel' && m.swarmId === 's1');
  });
  await sender.publish({ kind: 'events', swarmId: 's1', lastSeq: 7 });
  await eventually('an events hint through', () =>
    got.some((m) => m.kind === 'events' && m.lastSeq === 7),
  );
  expect(got.some((m) => m.swarmId === 'lost')).toBe(false);
  expect(crossed).toEqual([]);
  expect(logs.text()).toContain('bus messages published again');
}, 30_000);

it('closes at once while Redis is away', async () => {
  const b = await bus('c');
  await redis.stop();
  await b.publish({ kind: 'cancel', swarmId: 'x' });
  await b.close();
  buses.splice(buses.indexOf(b), 1);
  await redis.start();
});
