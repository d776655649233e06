// Flow control toward one LLM provider: how many requests are in flight (a configured ceiling and
// an adaptive limit under it that a 429 halves, and at most to the others then in flight, and that
// grows back by one per window of successes),
// requests and tokens per minute (token buckets that refill continuously, full at start), and a
// backoff shared by every caller once the provider answers 429 (its Retry-After, else
// exponential). Callers wait in one FIFO queue, so a burst of agents turns into a steady stream the
// provider accepts instead of a storm of 429s and retries.

import type { FlowStats } from '../ports/provider.js';

export interface FlowLimits {
  /** Requests in flight at most (the adaptive limit never exceeds it). */
  maxConcurrency: number;
  requestsPerMinute?: number | undefined;
  /** Input (estimated before the call) plus output tokens per minute. */
  tokensPerMinute?: number | undefined;
}

export interface FlowPermit {
  /** Gives the slot back; `usedTokens` corrects the estimate charged to the token bucket. */
  release(outcome: 'ok' | 'other', usedTokens?: number): void;
  /**
   * The provider answered 429: every caller waits `retryAfterMs` (else an exponential backoff)
   * from now, and the limit halves — once per round of requests, so the 429s of requests sent
   * before the last decrease don't halve it again. Gives the slot back (the call cost no tokens).
   */
  refused(retryAfterMs: number | undefined): void;
  /** Milliseconds the caller waited for this permit. */
  readonly waitedMs: number;
}

export interface FlowControl {
  /** Waits for a slot; `tokens` is the call's estimated cost. Rejects with the signal's reason. */
  acquire(tokens: number, signal?: AbortSignal | null): Promise<FlowPermit>;
  stats(): FlowStats;
}

interface Waiter {
  tokens: number;
  since: number;
  resolve(permit: FlowPermit): void;
  reject(err: unknown): void;
  signal?: AbortSignal | null | undefined;
  onAbort?: () => void;
}

/** A bucket of `perMinute` that refills continuously and starts full. */
class TokenBucket {
  private level: number;
  private at: number;
  constructor(
    readonly perMinute: number,
    now: number,
  ) {
    this.level = perMinute;
    this.at = now;
  }
  private refill(now: number): void {
    this.level = Math.min(this.perMinute, this.level + ((now - this.at) * this.perMinute) / 60_000);
    this.at = now;
  }
  /** Milliseconds until `n` (at most a full bucket) can be taken; 0 when now. */
  waitFor(n: number, now: number): number {
    this.refill(now);
    const need = Math.min(n, this.perMinute) - this.level;
    return need <= 0 ? 0 : Math.ceil((need * 60_000) / this.perMinute);
  }
  take(n: number): void {
    this.level -= n;
  }
  /** Gives back what was charged over the real cost (or takes the rest). */
  correct(by: number, now: number): void {
    this.refill(now);
    this.level = Math.min(this.perMinute, this.level + by);
  }
}

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;

export function createFlowControl(limits: FlowLimits, clock: () => number = Date.now): FlowControl {
  const max = Math.max(1, Math.floor(limits.maxConcurrency));
  let limit = max;
  let inFlight = 0;
  let backoffUntil = 0;
  let consecutive429 = 0;
  /** Requests are numbered as they are let in; a 429 of one let in before this halves nothing. */
  let admitted = 0;
  let decreasedAt = 0;
  let rateLimitedTotal = 0;
  const requests = limits.requestsPerMinute
    ? new TokenBucket(limits.requestsPerMinute, clock())
    : undefined;
  const tokenBucket = limits.tokensPerMinute
    ? new TokenBucket(limits.tokensPerMinute, clock())
    : undefined;
  const queue: Waiter[] = [];
  let timer: NodeJS.Timeout | undefined;

  function schedule(ms: number): void {
    if (timer) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        pump();
      },
      Math.max(1, ms),
    );
    timer.unref?.();
  }

  function pump(): void {
    while (queue.length) {
      const now = clock();
      if (now < backoffUntil) return schedule(backoffUntil - now);
      if (inFlight >= Math.floor(limit)) return;
      const w = queue[0]!;
      const wait = Math.max(
        requests?.waitFor(1, now) ?? 0,
        tokenBucket?.waitFor(w.tokens, now) ?? 0,
      );
      if (wait > 0) return schedule(wait);
      queue.shift();
      requests?.take(1);
      tokenBucket?.take(w.tokens);
      inFlight++;
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve(permit(w.tokens, now - w.since, ++admitted));
    }
  }

  function rateLimited(retryAfterMs: number | undefined, number: number): void {
    rateLimitedTotal++;
    consecutive429++;
    const wait = retryAfterMs ?? FIRST_BACKOFF_MS * 2 ** Math.min(consecutive429 - 1, 10);
    backoffUntil = Math.max(backoffUntil, clock() + Math.min(MAX_BACKOFF_MS, wait));
    if (number > decreasedAt) {
      // Multiplicative decrease, from what was really in flight when the provider said no.
      limit = Math.max(1, Math.floor(Math.min(limit, inFlight) / 2));
      decreasedAt = admitted;
    }
    // And never more than the others in flight now: the provider just refused one more than that.
    limit = Math.min(limit, Math.max(1, inFlight - 1));
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
  }

  function permit(charged: number, waitedMs: number, number: number): FlowPermit {
    let released = false;
    const release = (outcome: 'ok' | 'other', usedTokens?: number) => {
      if (released) return;
      released = true;
      inFlight--;
      if (outcome === 'ok') {
        consecutive429 = 0;
        // Additive increase: one more slot per `limit` successes.
        if (limit < max) limit = Math.min(max, limit + 1 / Math.floor(limit));
      }
      if (usedTokens !== undefined && tokenBucket)
        tokenBucket.correct(charged - usedTokens, clock());
      pump();
    };
    return {
      waitedMs,
      release,
      refused(retryAfterMs) {
        if (released) return;
        rateLimited(retryAfterMs, number);
        release('other', 0);
      },
    };
  }

  return {
    acquire(tokens, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<FlowPermit>((resolve, reject) => {
        const w: Waiter = { tokens: Math.max(0, tokens), since: clock(), resolve, reject, signal };
        if (signal) {
          w.onAbort = () => {
            const i = queue.indexOf(w);
            if (i >= 0) queue.splice(i, 1);
            reject(signal.reason);
            pump();
          };
          signal.addEventListener('abort', w.onAbort, { once: true });
        }
        queue.push(w);
        pump();
      });
    },
    stats() {
      return {
        inFlight,
        limit: Math.floor(limit),
        maxConcurrency: max,
        queued: queue.length,
        backoffMs: Math.max(0, backoffUntil - clock()),
        rateLimited: rateLimitedTotal,
      };
    },
  };
}

/** The wait a 429 asks for: `retry-after-ms`, or `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(
  header: (name: string) => string | null,
  now: number = Date.now(),
): number | undefined {
  const ms = Number(header('retry-after-ms'));
  if (header('retry-after-ms') !== null && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = header('retry-after');
  if (raw === null || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
