// A Redis outage in the distributed profile (a redis-server of the test's own, stopped and started
// again; Redis keeps nothing on disk, so its jobs are lost): the API keeps answering, a swarm
// submitted meanwhile is accepted and saved, and once Redis is back it runs to the end.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  agentOf,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.js';

let redis: ThrowawayRedis;
let db: TestDatabase;
let h: SwarmHarness;
beforeAll(async () => {
  redis = await startThrowawayRedis();
  db = await createTestDatabase();
  h = await startSwarmHarness({
    REDIS_URL: redis.url,
    DATABASE_URL: db.url,
    CFN_RECOVERY_INTERVAL_MS: '1000',
  });
}, 60_000);
afterAll(async () => {
  await h?.stop();
  await redis?.stop();
  await db?.drop();
});

it('accepts a swarm while Redis is down and runs it once Redis is back', async () => {
  h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
  await redis.stop();
  let id: string;
  try {
    const s = await h.submit({
      objective: 'through an outage',
      agents: ['impl-a'],
      validators: ['val-a'],
    });
    expect(s.status).toBe(202);
    id = s.id;
    const res = await h.server.fetch(`/api/swarms/${id}`, { key: h.server.adminKey });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('queued');
    expect(h.llm.requests).toHaveLength(0);
  } finally {
    await redis.start(); // empty: the job the submit could not queue does not exist anywhere
  }
  const events = await h.follow(id);
  expect(events.at(-1)).toMatchObject({ event: 'swarm.completed', data: { status: 'completed' } });
}, 60_000);
