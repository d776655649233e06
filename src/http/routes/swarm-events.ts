// A swarm's event stream (SSE): replays the log after the client's last event, then follows new
// ones. Bounded: each caller (API key) holds at most `maxPerCaller` streams in this process, a
// stream with no event for `idleTimeoutMs` (or open for `maxLifetimeMs`) ends with an `end` event
// saying why, and the client resumes with Last-Event-ID.
import type { Response } from 'express';
import { AppError } from '../../domain/errors.js';
import type { EventBus } from '../../ports/event-bus.js';
import type { StoredEvent, SwarmStore } from '../../ports/swarm-store.js';

export interface StreamLimits {
  /** Streams one API key may hold at once in this process. */
  maxPerCaller: number;
  /** A stream that sends no event for this long ends (`end` with reason `idle`). */
  idleTimeoutMs: number;
  /** A stream ends after this long whatever it sends (`lifetime`); 0: never. */
  maxLifetimeMs: number;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  heartbeatMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxPerCaller: 10,
  idleTimeoutMs: 300_000,
  maxLifetimeMs: 3_600_000,
  heartbeatMs: 15_000,
};

/** Why a stream ended, in its last (`end`) event. */
export type EndReason = 'completed' | 'idle' | 'lifetime' | 'shutdown' | 'error';

/** How long a refused caller is told to wait: streams last minutes, so a guess, not a promise. */
const RETRY_AFTER_SECONDS = 5;

export interface EventStreamDeps {
  store: SwarmStore;
  bus: EventBus;
  limits: StreamLimits;
  /** Open streams register here; shutdown ends them so the server can close. */
  openStreams?: Set<() => void> | undefined;
}

export function createEventStreams(deps: EventStreamDeps) {
  const { store, bus, limits } = deps;
  const held = new Map<string, number>();

  /**
   * Refuses the caller when it holds its limit (429 TOO_MANY_STREAMS, before any byte of the
   * stream), else streams the swarm's events after `lastSeen` into `res`.
   */
  function open(caller: string, swarmId: string, lastSeen: number, res: Response): void {
    const count = held.get(caller) ?? 0;
    if (count >= limits.maxPerCaller) {
      throw new AppError(
        'TOO_MANY_STREAMS',
        `This API key already holds ${count} event streams, the most it may (CFN_MAX_STREAMS_PER_CALLER); close one first`,
        { details: { limit: limits.maxPerCaller, retryAfterSeconds: RETRY_AFTER_SECONDS } },
      );
    }
    held.set(caller, count + 1);
    stream(swarmId, lastSeen, res, () => {
      const left = (held.get(caller) ?? 1) - 1;
      if (left > 0) held.set(caller, left);
      else held.delete(caller);
    });
  }

  function stream(swarmId: string, lastSeen: number, res: Response, released: () => void): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no', // nginx: do not buffer this response
    });
    res.write('retry: 2000\n\n');
    let sent = lastSeen;
    let closed = false;
    let pumping = false;
    let again = false;

    const write = (e: StoredEvent) => {
      res.write(
        `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ seq: e.seq, at: e.at.toISOString(), ...e.data })}\n\n`,
      );
      sent = e.seq;
      idle.refresh();
    };

    async function pump(): Promise<void> {
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      try {
        do {
          again = false;
          for (;;) {
            const batch = await store.events(swarmId, sent, 500);
            for (const e of batch) {
              if (closed) return;
              write(e);
              if (e.type === 'swarm.completed') {
                finish('completed');
                return;
              }
            }
            if (batch.length < 500) break;
          }
        } while (again && !closed);
        // A client resuming after the last event of a finished swarm: nothing more will come.
        const record = await store.get(swarmId);
        if (record?.completedAt && record.lastSeq <= sent) finish('completed');
      } catch {
        finish('error');
      } finally {
        pumping = false;
        // A hint that came during the completion check above found `pumping` set and only raised
        // `again`, after the loop had tested it: read again, or it waits for the heartbeat.
        if (again && !closed) void pump();
      }
    }

    // Subscribe before the first read so nothing appended in between is missed.
    const unsubscribe = bus.subscribe((m) => {
      if (m.kind === 'events' && m.swarmId === swarmId && m.lastSeq > sent) void pump();
    });
    const heartbeat = setInterval(() => {
      res.write(': keep-alive\n\n');
      // Bus messages are hints: a lost one (Redis briefly away) is made good by reading the log.
      void pump();
    }, limits.heartbeatMs);
    const idle = setTimeout(() => finish('idle'), limits.idleTimeoutMs);
    const lifetime =
      limits.maxLifetimeMs > 0
        ? setTimeout(() => finish('lifetime'), limits.maxLifetimeMs)
        : undefined;

    /** Ends the stream once; `reason` goes to the client unless it has gone. */
    function finish(reason?: EndReason) {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      clearTimeout(idle);
      clearTimeout(lifetime);
      unsubscribe();
      deps.openStreams?.delete(end);
      released();
      // No `id:` line: the client's Last-Event-ID stays the last event's seq.
      if (reason) res.write(`event: end\ndata: ${JSON.stringify({ reason, lastSeq: sent })}\n\n`);
      res.end();
    }
    const end = () => finish('shutdown');
    deps.openStreams?.add(end);
    res.on('close', () => finish());
    void pump();
  }

  return { open };
}
