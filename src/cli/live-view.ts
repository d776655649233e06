// Watching a swarm in the terminal: follows its events, prints one line per meaningful event (or
// NDJSON), redraws a status line on a TTY, and ends with a summary and the exit code.
import { CliError, type ApiClient } from './api-client.js';
import type { StreamEvent, SwarmDetailView } from './api-types.js';
import type { CliIo } from './command-kit.js';
import { followEvents, type FollowOptions } from './event-stream.js';
import {
  applyProgress,
  createProgress,
  eventLine,
  nextStep,
  statusLine,
  summaryLines,
  type ProgressState,
} from './progress-view.js';

const CLEAR_LINE = '\r\x1b[2K';
/** After Ctrl-C, how long to wait for the cancelled swarm's stream to end. */
const CANCEL_WAIT_MS = 5000;

export interface WatchOptions {
  client: ApiClient;
  io: CliIo;
  swarmId: string;
  json: boolean;
  after?: number;
  /** Ctrl-C: `cancel` asks the service to cancel the swarm (run); `detach` only stops following. */
  onInterrupt: 'cancel' | 'detach';
  /** Seeds the progress state when resuming mid-stream (`--after`). */
  seed?: Parameters<typeof createProgress>[1];
  follow?: Partial<Pick<FollowOptions, 'backoffMs' | 'maxReconnects' | 'idleTimeoutMs'>>;
}

/** A terminal status line that other output clears and redraws. */
function createStatusLine(io: CliIo, state: ProgressState, enabled: boolean) {
  let shown = false;
  const draw = () => {
    if (!enabled) return;
    const line = statusLine(state, Date.now());
    const width = Math.max(10, io.columns() - 1);
    io.out(`${CLEAR_LINE}${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
    shown = true;
  };
  const clear = () => {
    if (shown) io.out(CLEAR_LINE);
    shown = false;
  };
  const timer = enabled ? setInterval(draw, 1000) : undefined;
  timer?.unref();
  return {
    /** Prints `text` (whole lines) above the status line. */
    print(text: string) {
      clear();
      io.out(text.endsWith('\n') ? text : `${text}\n`);
      draw();
    },
    draw,
    close() {
      clearInterval(timer);
      clear();
    },
  };
}

/** Follows the swarm to its end; resolves when it completed, throws a CliError otherwise. */
export async function watchSwarm(o: WatchOptions): Promise<void> {
  const { io, client, swarmId } = o;
  const state = createProgress(swarmId, { ...o.seed, lastSeq: o.after ?? 0 });
  // NDJSON stays clean even on a terminal: no status line there.
  const status = createStatusLine(io, state, io.isTTY && !o.json);
  // Notes for people go to stderr in --json mode so stdout stays pure NDJSON.
  const note = (text: string) => (o.json ? io.err(`${text}\n`) : status.print(text));
  const stop = new AbortController();
  let interrupted = false;
  let cancelTimer: NodeJS.Timeout | undefined;

  const offInterrupt = io.onInterrupt(() => {
    if (interrupted || o.onInterrupt === 'detach') {
      interrupted = true;
      stop.abort();
      return;
    }
    interrupted = true;
    note(`Interrupted: cancelling swarm ${swarmId} (Ctrl-C again to stop waiting)…`);
    client.call('POST', `/api/swarms/${encodeURIComponent(swarmId)}/cancel`).then(
      () =>
        note(`Cancel requested; waiting up to ${CANCEL_WAIT_MS / 1000} s for the swarm to stop.`),
      (err: unknown) => note(`Could not cancel: ${(err as Error).message}`),
    );
    cancelTimer = setTimeout(() => stop.abort(), CANCEL_WAIT_MS);
  });

  let result;
  try {
    status.draw();
    result = await followEvents({
      client,
      swarmId,
      after: o.after ?? 0,
      signal: stop.signal,
      ...o.follow,
      onEvent(ev: StreamEvent) {
        applyProgress(state, ev);
        if (o.json) {
          io.out(`${JSON.stringify({ swarmId, ...ev })}\n`);
          return;
        }
        const line = eventLine(ev, state);
        if (line) status.print(line);
        else status.draw();
      },
      onReconnect: ({ attempt, delayMs, reason, lastSeq }) =>
        note(
          `Event stream interrupted (${reason}); reconnecting after event ${lastSeq} in ` +
            `${(delayMs / 1000).toFixed(1)} s (attempt ${attempt}).`,
        ),
    });
  } finally {
    clearTimeout(cancelTimer);
    offInterrupt();
    status.close();
  }

  if (interrupted) {
    const outcome = result.completed
      ? `it ended ${result.completed.status}`
      : o.onInterrupt === 'cancel'
        ? 'cancellation was requested but it had not stopped yet'
        : 'it keeps running';
    const resume =
      o.onInterrupt === 'detach' && !result.completed
        ? ` Resume with \`cfn swarms follow ${swarmId} --after ${result.lastSeq}\`.`
        : '';
    throw new CliError(
      `Stopped following swarm ${swarmId}: ${outcome}. Details: \`cfn swarms show ${swarmId}\`.${resume}`,
      130,
    );
  }

  const end = result.completed;
  const finalStatus = end?.status ?? 'unknown';
  if (!o.json) {
    const detail = await client
      .call<SwarmDetailView>('GET', `/api/swarms/${encodeURIComponent(swarmId)}`)
      .catch(() => undefined);
    io.out(
      summaryLines(
        detail
          ? {
              id: swarmId,
              status: detail.status,
              decision: detail.decision,
              reason: detail.reason,
              iterations: detail.iteration,
              tokens: detail.tokens,
              costUsd: detail.costUsd,
              elapsedMs: detail.completedAt
                ? Date.parse(detail.completedAt) - Date.parse(detail.createdAt)
                : undefined,
            }
          : {
              id: swarmId,
              status: finalStatus,
              decision: null,
              reason: end?.reason ?? null,
              iterations: state.iteration,
              tokens: state.tokens,
              costUsd: state.costUsd,
              elapsedMs:
                state.startedAt !== undefined && state.endedAt !== undefined
                  ? state.endedAt - state.startedAt
                  : undefined,
            },
      ),
    );
  }
  if (finalStatus !== 'completed') throw new CliError(nextStep(finalStatus, swarmId), 2);
}
