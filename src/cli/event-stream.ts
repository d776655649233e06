// Follows a swarm's Server-Sent Events until swarm.completed, resuming with Last-Event-ID when the
// connection drops (a restart, a proxy timeout) or the service ends a quiet or long stream (its
// `end` event), so no event is lost or shown twice.
import { createParser } from 'eventsource-parser';
import { isTerminal } from '../domain/cfn/spec.js';
import { CliError, httpError, unreachableError, type ApiClient } from './api-client.js';
import type { StreamEvent, SwarmRecordView } from './api-types.js';

export interface FollowOptions {
  client: ApiClient;
  swarmId: string;
  /** Resume after this event seq (0: replay from the start). */
  after?: number;
  onEvent(event: StreamEvent): void;
  /** Stops following (not an error): the result then has `stopped: true`. */
  signal?: AbortSignal;
  /** Reconnections in a row without receiving an event before giving up. */
  maxReconnects?: number;
  /** Wait before reconnection `attempt` (1-based). */
  backoffMs?: (attempt: number) => number;
  /** No bytes (events or heartbeats) for this long: treat the connection as dropped. */
  idleTimeoutMs?: number;
  onReconnect?(info: { attempt: number; delayMs: number; reason: string; lastSeq: number }): void;
}

export interface FollowResult {
  lastSeq: number;
  completed?: { status: string; reason: string } | undefined;
  stopped: boolean;
}

const defaultBackoff = (attempt: number) => Math.min(250 * 2 ** (attempt - 1), 5000);

/** Reasons of an `end` event after which the stream is simply opened again. */
const ROUTINE_ENDS = new Set(['idle', 'lifetime']);

/** A refusal that heals with time (429: too many streams or requests): wait, then retry. */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function followEvents(o: FollowOptions): Promise<FollowResult> {
  const { client, swarmId, signal } = o;
  const maxReconnects = o.maxReconnects ?? 5;
  const backoff = o.backoffMs ?? defaultBackoff;
  const idleTimeoutMs = o.idleTimeoutMs ?? 60_000;
  const url = `${client.base}/api/swarms/${encodeURIComponent(swarmId)}/events`;
  let lastSeq = o.after ?? 0;
  let connectedOnce = false;
  let failures = 0;

  /**
   * One connection: resolves with the completion, or without it when the stream ended early
   * (`ended`: the reason of the service's `end` event, when it sent one).
   */
  async function connectOnce(): Promise<{
    completed?: FollowResult['completed'];
    got: number;
    ended?: string;
  }> {
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () => ac.abort(new Error(`no data for ${Math.round(idleTimeoutMs / 1000)} s`)),
        idleTimeoutMs,
      );
    };
    let got = 0;
    let completed: FollowResult['completed'];
    let ended: string | undefined;
    try {
      armIdle();
      let res: Response;
      try {
        res = await client.fetch(url, {
          headers: {
            accept: 'text/event-stream',
            ...(client.key ? { authorization: `Bearer ${client.key}` } : {}),
            ...(lastSeq > 0 ? { 'last-event-id': String(lastSeq) } : {}),
          },
          signal: ac.signal,
        });
      } catch (err) {
        // Never connected: the service is not there; say so at once instead of retrying.
        if (!connectedOnce && !signal?.aborted) throw unreachableError(client.base, err);
        throw err;
      }
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => '');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        if (res.status === 429) {
          const seconds = Number(res.headers.get('retry-after'));
          throw new RetryLater(
            `HTTP 429: ${(body as { error?: { message?: string } }).error?.message ?? 'too many requests'}`,
            Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 5000,
          );
        }
        // A client error will not heal by retrying (bad key, unknown swarm); a 5xx may.
        if (res.status < 500) throw httpError(res.status, body, Boolean(client.key));
        throw new Error(`HTTP ${res.status}`);
      }
      connectedOnce = true;
      const parser = createParser({
        onEvent(m) {
          if (m.event === 'end') {
            try {
              ended = String((JSON.parse(m.data) as { reason?: unknown }).reason ?? 'unknown');
            } catch {
              ended = 'unknown';
            }
            return;
          }
          let data: Record<string, unknown>;
          try {
            data = JSON.parse(m.data) as Record<string, unknown>;
          } catch {
            throw new CliError(
              `The service sent an event that is not JSON: ${m.data.slice(0, 200)}`,
            );
          }
          const seq = Number(m.id ?? data.seq);
          if (!Number.isInteger(seq) || seq <= lastSeq) return; // replayed: already shown
          lastSeq = seq;
          got += 1;
          const event = { ...data, type: m.event ?? data.type, seq } as StreamEvent;
          o.onEvent(event);
          if (event.type === 'swarm.completed')
            completed = { status: event.status, reason: event.reason };
        },
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        while (!completed && !ended) {
          const { done, value } = await reader.read();
          if (done) break;
          armIdle();
          parser.feed(value);
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
      if (ac.signal.aborted && !completed && !ended) throw ac.signal.reason ?? new Error('aborted');
      return { completed, got, ...(ended ? { ended } : {}) };
    } finally {
      clearTimeout(idle);
      signal?.removeEventListener('abort', onAbort);
      ac.abort();
    }
  }

  for (;;) {
    if (signal?.aborted) return { lastSeq, stopped: true };
    let reason: string;
    let waitMs = 0;
    try {
      const r = await connectOnce();
      if (r.completed) return { lastSeq, completed: r.completed, stopped: false };
      if (r.got > 0) failures = 0;
      // The service ended a quiet (or long) stream of a swarm still running: open it again now.
      if (r.ended && ROUTINE_ENDS.has(r.ended)) {
        failures = 0;
        continue;
      }
      // The stream ended without swarm.completed: either the swarm had already finished (we
      // resumed after its last event) or the service is going away; the record tells which.
      const record = await client
        .call<SwarmRecordView>('GET', `/api/swarms/${encodeURIComponent(swarmId)}`)
        .catch(() => undefined);
      if (record && isTerminal(record.status)) {
        return {
          lastSeq,
          completed: { status: record.status, reason: record.reason ?? '' },
          stopped: false,
        };
      }
      reason = 'the stream ended early';
    } catch (err) {
      if (signal?.aborted) return { lastSeq, stopped: true };
      if (err instanceof CliError) throw err;
      if (err instanceof RetryLater) waitMs = err.delayMs;
      reason = err instanceof Error ? err.message : String(err);
    }
    failures += 1;
    if (failures > maxReconnects) {
      throw new CliError(
        `Lost the event stream of swarm ${swarmId} (${reason}) after ${maxReconnects} reconnection attempts. ` +
          `The swarm keeps running on the service: resume with \`cfn swarms follow ${swarmId} --after ${lastSeq}\`.`,
      );
    }
    const delayMs = Math.max(backoff(failures), waitMs);
    o.onReconnect?.({ attempt: failures, delayMs, reason, lastSeq });
    await sleep(delayMs, signal);
  }
}
