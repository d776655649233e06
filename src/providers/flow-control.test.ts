// The flow control's rules on a fake clock: the concurrency ceiling and its FIFO queue, the
// per-minute buckets, the backoff a 429 starts for everyone, the adaptive limit, and aborts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFlowControl, retryAfterMs, type FlowPermit } from './flow-control.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Starts `n` acquisitions; `granted` lists the permits in the order they came. */
function request(flow: ReturnType<typeof createFlowControl>, n: number, tokens = 0) {
  const granted: Array<{ i: number; permit: FlowPermit }> = [];
  for (let i = 0; i < n; i++)
    void flow.acquire(tokens).then((permit) => granted.push({ i, permit }));
  return granted;
}

describe('createFlowControl', () => {
  it('lets maxConcurrency requests in and the rest follow in order as slots free', async () => {
    const flow = createFlowControl({ maxConcurrency: 3 });
    const granted = request(flow, 5);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted.map((g) => g.i)).toEqual([0, 1, 2]);
    expect(flow.stats()).toMatchObject({ inFlight: 3, queued: 2, limit: 3 });
    granted[1]!.permit.release('ok');
    await vi.advanceTimersByTimeAsync(0);
    expect(granted.map((g) => g.i)).toEqual([0, 1, 2, 3]);
    granted[1]!.permit.release('ok'); // twice: still one slot
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toHaveLength(4);
    expect(flow.stats()).toMatchObject({ inFlight: 3, queued: 1 });
  });

  it('spreads requests per minute: a full bucket at start, then one per 60/rpm seconds', async () => {
    const flow = createFlowControl({ maxConcurrency: 100, requestsPerMinute: 6 });
    const granted = request(flow, 8);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toHaveLength(6);
    await vi.advanceTimersByTimeAsync(9_900);
    expect(granted).toHaveLength(6);
    await vi.advanceTimersByTimeAsync(100);
    expect(granted).toHaveLength(7);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(granted).toHaveLength(8);
  });

  it('charges tokens per minute by estimate and gives back what the call did not use', async () => {
    const flow = createFlowControl({ maxConcurrency: 100, tokensPerMinute: 1000 });
    const first = request(flow, 2, 600);
    await vi.advanceTimersByTimeAsync(0);
    expect(first).toHaveLength(1);
    // The first call used 100 of its 600: the second fits at once.
    first[0]!.permit.release('ok', 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(first).toHaveLength(2);
    // A request larger than the whole bucket waits for a full one, then goes.
    const big = request(flow, 1, 5000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(big).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(big).toHaveLength(1);
  });

  it('makes everyone wait out a 429 and halves the limit from what was in flight', async () => {
    const flow = createFlowControl({ maxConcurrency: 40 });
    const granted = request(flow, 30);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toHaveLength(30);
    granted[0]!.permit.refused(2000);
    // A second 429 of the same burst (let in before the decrease) does not halve it again.
    granted[1]!.permit.refused(2000);
    expect(flow.stats()).toMatchObject({ limit: 15, rateLimited: 2, inFlight: 28 });
    // (Failures, so that the limit does not grow back meanwhile.)
    for (const g of granted.slice(2, 20)) g.permit.release('other');
    const later = request(flow, 10);
    await vi.advanceTimersByTimeAsync(1900);
    expect(later).toHaveLength(0);
    expect(flow.stats().backoffMs).toBe(100);
    await vi.advanceTimersByTimeAsync(100);
    // 10 still in flight under a limit of 15: five more go.
    expect(later).toHaveLength(5);
    // A 429 of a request let in after the decrease halves the limit again.
    later[0]!.permit.refused(100);
    expect(flow.stats()).toMatchObject({ limit: 7, rateLimited: 3, inFlight: 14 });
  });

  it('grows the limit back by one for every `limit` successes, up to maxConcurrency', async () => {
    const flow = createFlowControl({ maxConcurrency: 8 });
    const first = request(flow, 8);
    await vi.advanceTimersByTimeAsync(0);
    // Each refusal leaves the limit no higher than the others still in flight: down to one.
    for (const g of first) g.permit.refused(0);
    expect(flow.stats().limit).toBe(1);
    for (let round = 0; round < 100; round++) {
      const batch = request(flow, 1);
      await vi.advanceTimersByTimeAsync(0);
      batch[0]!.permit.release('ok');
    }
    expect(flow.stats().limit).toBe(8);
  });

  it('backs off exponentially without a Retry-After, and resets after a success', async () => {
    const flow = createFlowControl({ maxConcurrency: 4 });
    const refuse = async () => {
      const one = request(flow, 1);
      await vi.advanceTimersByTimeAsync(0);
      one[0]!.permit.refused(undefined);
    };
    await refuse();
    expect(flow.stats().backoffMs).toBe(1000);
    await vi.advanceTimersByTimeAsync(1000);
    await refuse();
    expect(flow.stats().backoffMs).toBe(2000);
    await vi.advanceTimersByTimeAsync(2000);
    const one = request(flow, 1);
    await vi.advanceTimersByTimeAsync(0);
    one[0]!.permit.release('ok');
    await refuse();
    expect(flow.stats().backoffMs).toBe(1000);
  });

  it('drops an aborted waiter from the queue and rejects with the reason', async () => {
    const flow = createFlowControl({ maxConcurrency: 1 });
    const holder = request(flow, 1);
    const controller = new AbortController();
    const waiting = flow.acquire(0, controller.signal);
    const after = request(flow, 1);
    controller.abort(new Error('cut short'));
    await expect(waiting).rejects.toThrow('cut short');
    expect(flow.stats().queued).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    holder[0]!.permit.release('ok');
    await vi.advanceTimersByTimeAsync(0);
    expect(after).toHaveLength(1);
    await expect(flow.acquire(0, AbortSignal.abort(new Error('late')))).rejects.toThrow('late');
  });
});

describe('retryAfterMs', () => {
  const from = (headers: Record<string, string>) => (name: string) => headers[name] ?? null;
  it('reads retry-after-ms, seconds and an HTTP date; ignores what it cannot read', () => {
    expect(retryAfterMs(from({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(retryAfterMs(from({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(from({ 'retry-after': '0.5' }))).toBe(500);
    const now = Date.parse('2026-12-02T10:00:00Z');
    expect(retryAfterMs(from({ 'retry-after': 'Wed, 02 Dec 2026 10:00:03 GMT' }), now)).toBe(3000);
    expect(retryAfterMs(from({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(from({ 'retry-after': '-1' }))).toBeUndefined();
    expect(retryAfterMs(from({}))).toBeUndefined();
  });
});
