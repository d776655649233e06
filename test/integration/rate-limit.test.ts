// The API rate limit: per caller, over the limit a 429 in the JSON error shape with Retry-After.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ RATE_LIMIT_PER_MINUTE: '5' });
});
afterAll(async () => {
  await s?.stop();
});

it('answers 429 with Retry-After once a caller exceeds its limit, without affecting others or /health', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++)
    statuses.push((await s.fetch('/api/whoami', { key: s.adminKey })).status);
  expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
  expect(statuses.slice(5)).toEqual([429, 429]);

  const limited = await s.fetch('/api/whoami', { key: s.adminKey });
  expect(limited.status).toBe(429);
  const retryAfter = Number(limited.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  const body = (await limited.json()) as { error: { code: string; requestId: string } };
  expect(body.error.code).toBe('RATE_LIMITED');
  expect(body.error.requestId).toBe(limited.headers.get('x-request-id'));

  // Another caller (no valid key: limited by address) still has its own budget; health is never limited.
  expect((await s.fetch('/api/whoami')).status).toBe(401);
  for (let i = 0; i < 10; i++) expect((await s.fetch('/health')).status).toBe(200);
});

it('limits callers without a valid key by address, however many different keys they try', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    statuses.push(
      (await s.fetch('/api/whoami', { key: `cfn_guess_${i}_${Math.random()}` })).status,
    );
  }
  // The previous test spent one request of this address's budget without a key.
  expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
  expect(statuses.slice(4)).toEqual([429, 429, 429, 429]);
});
