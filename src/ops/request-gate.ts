// The door of this replica for requests that change data: it counts those in flight, and once
// closed (maintenance acknowledged) refuses new ones, so "no request writes any more" can be
// waited for instead of assumed after a cache period.

export interface RequestGate {
  /** True once the gate is closed: new mutating requests are refused. */
  readonly closed: boolean;
  /** A mutating request starts; the returned function ends it (call it exactly once). */
  enter(): () => void;
  close(): void;
  open(): void;
  /** Resolves when no mutating request is in flight (false if `timeoutMs` passed first). */
  drained(timeoutMs: number): Promise<boolean>;
  readonly inFlight: number;
}

export function createRequestGate(): RequestGate {
  let closed = false;
  let inFlight = 0;
  const waiters = new Set<() => void>();
  return {
    get closed() {
      return closed;
    },
    get inFlight() {
      return inFlight;
    },
    enter() {
      inFlight++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        if (--inFlight === 0) for (const w of [...waiters]) w();
      };
    },
    close() {
      closed = true;
    },
    open() {
      closed = false;
    },
    drained(timeoutMs) {
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const finish = (ok: boolean) => {
          clearTimeout(timer);
          waiters.delete(onIdle);
          resolve(ok);
        };
        const onIdle = () => finish(true);
        const timer = setTimeout(() => finish(false), timeoutMs);
        waiters.add(onIdle);
      });
    },
  };
}
