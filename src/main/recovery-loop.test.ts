import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../ports/logger.js';
import { startRecoveryLoop } from './recovery-loop.js';

/** A logger that keeps "level: message" lines. */
function recordingLogger(lines: string[]): Logger {
  const at =
    (level: string) =>
    (a: object | string, b?: string): void =>
      void lines.push(`${level}: ${typeof a === 'string' ? a : (b ?? '')}`);
  const logger: Logger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => logger,
  };
  return logger;
}

describe('startRecoveryLoop', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does not fail the start when the first pass fails, and retries until one succeeds', async () => {
    const lines: string[] = [];
    let queueUp = false;
    const calls: Array<boolean | undefined> = [];
    const loop = await startRecoveryLoop({
      recover: async (o) => {
        calls.push(o?.quiet);
        if (!queueUp) throw new Error('queue away');
        return 1;
      },
      logger: recordingLogger(lines),
      retryMs: 1000,
      maxRetryMs: 4000,
    });
    expect(calls).toEqual([false]);
    expect(lines).toEqual([
      'warn: could not resume unfinished swarms at start (is the queue away?); retrying in the background',
    ]);
    await vi.advanceTimersByTimeAsync(1000); // retry 1 fails
    await vi.advanceTimersByTimeAsync(2000); // retry 2 fails
    expect(calls).toHaveLength(3);
    queueUp = true;
    await vi.advanceTimersByTimeAsync(4000); // retry 3 succeeds
    expect(calls).toHaveLength(4);
    expect(lines.at(-1)).toBe('info: unfinished swarms resumed after a failed start-up pass');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(4); // no sweep configured, no more retries
    loop.stop();
  });

  it('sweeps quietly, logging a failing sweep once and its recovery once', async () => {
    const lines: string[] = [];
    let fail = false;
    let passes = 0;
    const loop = await startRecoveryLoop({
      recover: async () => {
        passes++;
        if (fail) throw new Error('queue away');
        return 0;
      },
      logger: recordingLogger(lines),
      sweepMs: 1000,
    });
    fail = true;
    await vi.advanceTimersByTimeAsync(3000);
    fail = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(passes).toBe(6);
    expect(lines).toEqual([
      'warn: periodic recovery failed; trying again every sweep, logged again once it works',
      'info: periodic recovery works again',
    ]);
    loop.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(passes).toBe(6);
  });
});
