// Event streams are bounded: a caller holds at most CFN_MAX_STREAMS_PER_CALLER at once (one more
// is a JSON 429 with Retry-After), a stream with no event for CFN_STREAM_IDLE_TIMEOUT_MS (or open
// for CFN_STREAM_MAX_LIFETIME_MS) ends with an `end` event, and the CLI follower resumes after it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/cli/api-client.js';
import { followEvents } from '../../src/cli/event-stream.js';
import { passingAgents, startSwarmHarness, type SwarmHarness } from '../support/swarm-harness.js';

const IDLE_MS = 600;
const LIMIT = 2;

let h: SwarmHarness;
/** A swarm waiting for a human decision: its stream stays quiet until someone decides. */
let waiting: { id: string; lastSeq: number };

async function newKey(role: string): Promise<string> {
  const res = await h.server.fetch('/api/keys', {
    method: 'POST',
    key: h.server.adminKey,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: `streams-${role}-${Math.random()}`, role }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

async function submitWaiting(harness = h): Promise<{ id: string; lastSeq: number }> {
  const s = await harness.submit({
    objective: 'wait for a person',
    agents: ['impl-a'],
    validators: ['val-a'],
    approval: 'human',
  });
  const requested = await harness.waitForEvent(s.id, 'decision.requested');
  return { id: s.id, lastSeq: requested.id };
}

/** Opens a stream and reads it whole (until the server ends it). */
async function readStream(id: string, key: string, lastEventId?: number, harness = h) {
  const res = await harness.server.fetch(`/api/swarms/${id}/events`, {
    key,
    headers: lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) },
    signal: AbortSignal.timeout(20_000),
  });
  expect(res.status).toBe(200);
  return res.text();
}

/** A service whose agents pass: a swarm with approval "human" then waits for a decision. */
async function startService(env: Record<string, string>): Promise<SwarmHarness> {
  const harness = await startSwarmHarness(env);
  harness.llm.setResponder(passingAgents);
  return harness;
}

beforeAll(async () => {
  h = await startService({
    CFN_MAX_STREAMS_PER_CALLER: String(LIMIT),
    CFN_STREAM_IDLE_TIMEOUT_MS: String(IDLE_MS),
  });
  waiting = await submitWaiting();
});
afterAll(async () => {
  await h?.stop();
});

describe('streams per caller', () => {
  it('refuses one stream more than the limit with a JSON 429 and Retry-After, per key', async () => {
    const key = await newKey('viewer');
    const open = await Promise.all(
      Array.from({ length: LIMIT }, () =>
        h.server.fetch(`/api/swarms/${waiting.id}/events`, { key }),
      ),
    );
    expect(open.map((r) => r.status)).toEqual(Array(LIMIT).fill(200));

    const refused = await h.server.fetch(`/api/swarms/${waiting.id}/events`, { key });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await refused.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('TOO_MANY_STREAMS');
    expect(body.error.requestId).toBe(refused.headers.get('x-request-id'));

    // Another caller is not affected.
    const other = await h.server.fetch(`/api/swarms/${waiting.id}/events`, {
      key: await newKey('viewer'),
    });
    expect(other.status).toBe(200);
    await other.body?.cancel();

    // A stream that ends (here: idles out) gives its place back.
    await Promise.all(open.map((r) => r.text()));
    const again = await h.server.fetch(`/api/swarms/${waiting.id}/events`, { key });
    expect(again.status).toBe(200);
    await again.body?.cancel();
  });
});

describe('idle streams', () => {
  it('ends a stream with no event for the idle timeout with an end event naming the last seq', async () => {
    const started = Date.now();
    const text = await readStream(waiting.id, await newKey('viewer'), waiting.lastSeq);
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(text).toContain(
      `event: end\ndata: ${JSON.stringify({ reason: 'idle', lastSeq: waiting.lastSeq })}\n\n`,
    );
    expect(text).not.toMatch(/^id: /m); // nothing after the client's last event was sent
  });

  it('ends the stream of a finished swarm with reason completed', async () => {
    const s = await h.submit({ objective: 'quick', agents: ['impl-a'], validators: ['val-a'] });
    const text = await readStream(s.id, h.server.adminKey);
    expect(text).toMatch(/event: swarm\.completed\n[^]*event: end\ndata: \{"reason":"completed"/);
  });

  it('lets the CLI follower resume after an idle end, until the swarm completes', async () => {
    const swarm = await submitWaiting();
    const client = createApiClient({ url: h.server.url, key: await newKey('operator') });
    const seen: number[] = [];
    let idled!: () => void;
    const quietLongEnough = new Promise<void>((resolve) => (idled = resolve));
    const followed = followEvents({
      client,
      swarmId: swarm.id,
      // No reconnection budget: an idle end must not count as a lost connection.
      maxReconnects: 0,
      onEvent(e) {
        seen.push(e.seq);
        if (e.seq === swarm.lastSeq) {
          // Once the follower has everything so far, a second stream opened now idles out after
          // the follower's own: when it ends, the follower's stream has ended at least once.
          void readStream(swarm.id, h.server.adminKey, swarm.lastSeq).then(() => idled());
        }
      },
    });
    await quietLongEnough;
    const decided = await h.server.fetch(`/api/swarms/${swarm.id}/decision`, {
      method: 'POST',
      key: h.server.adminKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'PROCEED' }),
    });
    expect(decided.status).toBe(200);
    const result = await followed;
    expect(result.completed?.status).toBe('completed');
    expect(seen).toEqual([...new Set(seen)].sort((a, b) => a - b)); // none twice, in order
    expect(seen[0]).toBe(1);
  });
});

describe('stream lifetime', () => {
  it('ends a stream open for the lifetime limit even before it idles', async () => {
    const short = await startService({
      CFN_STREAM_IDLE_TIMEOUT_MS: '60000',
      CFN_STREAM_MAX_LIFETIME_MS: '500',
    });
    try {
      const swarm = await submitWaiting(short);
      const text = await readStream(swarm.id, short.server.adminKey, swarm.lastSeq, short);
      expect(text).toContain(
        `event: end\ndata: ${JSON.stringify({ reason: 'lifetime', lastSeq: swarm.lastSeq })}`,
      );
    } finally {
      await short.stop();
    }
  });
});
