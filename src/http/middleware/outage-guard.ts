// A shared dependency on the request path (Redis for the cache and the rate limit) must neither fail
// nor slow every request while it is away: after a failure the fallback answers at once, and the
// dependency is tried again at most once per `retryMs` (a stalled Redis costs one command timeout
// per retry, not one per request). The outage is reported once, and its end once.

export interface OutageGuardOptions {
  /** The first failure of an outage. */
  onDown(err: unknown): void;
  /** The first success after an outage. */
  onUp(): void;
  retryMs?: number;
  now?: () => number;
}

export interface OutageGuard {
  /** `shared()`, or `fallback()` when it fails or while the dependency is resting after a failure. */
  run<T>(shared: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T>;
  readonly down: boolean;
}

export function createOutageGuard(options: OutageGuardOptions): OutageGuard {
  const now = options.now ?? Date.now;
  const retryMs = options.retryMs ?? 1000;
  let down = false;
  let retryAt = 0;
  return {
    get down() {
      return down;
    },
    async run(shared, fallback) {
      if (down && now() < retryAt) return fallback();
      try {
        const out = await shared();
        if (down) options.onUp();
        down = false;
        return out;
      } catch (err) {
        if (!down) options.onDown(err);
        down = true;
        retryAt = now() + retryMs;
        return fallback();
      }
    },
  };
}
