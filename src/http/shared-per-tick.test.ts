import { describe, expect, it } from 'vitest';
import { sharedPerTick } from './shared-per-tick.js';

describe('sharedPerTick', () => {
  it('runs one computation for identical calls of one turn, after the last of them', async () => {
    const log: string[] = [];
    let state = 'old';
    const read = sharedPerTick(
      (k: string) => k,
      async (k: string) => {
        log.push(`compute ${k}`);
        return `${k}:${state}`;
      },
    );
    const a = read('x');
    const b = read('y');
    state = 'new'; // written before the third caller asked: it must see it, and so do the others
    const c = read('x');
    expect(await Promise.all([a, b, c])).toEqual(['x:new', 'y:new', 'x:new']);
    expect(log).toEqual(['compute x', 'compute y']);
  });

  it('starts a new computation for a call made once the last one has started', async () => {
    let calls = 0;
    let state = 1;
    let release: (() => void) | undefined;
    const read = sharedPerTick(
      () => 'k',
      async () => {
        calls += 1;
        const seen = state;
        if (calls === 1) await new Promise<void>((r) => (release = r));
        return seen;
      },
    );
    const first = read(undefined);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    state = 2; // committed while the first computation runs: a later caller must see it
    const second = read(undefined);
    release!();
    expect(await first).toBe(1);
    expect(await second).toBe(2);
    expect(calls).toBe(2);
  });

  it('gives every caller of a failed computation the error', async () => {
    const read = sharedPerTick(
      () => 'k',
      async () => {
        throw new Error('down');
      },
    );
    const results = await Promise.allSettled([read(1), read(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
