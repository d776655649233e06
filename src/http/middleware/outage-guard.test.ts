import { describe, expect, it } from 'vitest';
import { createOutageGuard } from './outage-guard.js';

describe('createOutageGuard', () => {
  const setup = () => {
    let t = 0;
    const events: string[] = [];
    const guard = createOutageGuard({
      onDown: (err) => events.push(`down: ${(err as Error).message}`),
      onUp: () => events.push('up'),
      retryMs: 1000,
      now: () => t,
    });
    return { guard, events, advance: (ms: number) => (t += ms) };
  };
  const fail = () => Promise.reject(new Error('refused'));

  it('answers from the shared dependency while it works', async () => {
    const { guard, events } = setup();
    expect(
      await guard.run(
        async () => 'shared',
        () => 'local',
      ),
    ).toBe('shared');
    expect(guard.down).toBe(false);
    expect(events).toEqual([]);
  });

  it('falls back on a failure, reports the outage once, and rests the dependency meanwhile', async () => {
    const { guard, events, advance } = setup();
    expect(await guard.run(fail, () => 'local')).toBe('local');
    let tried = 0;
    const counted = async () => {
      tried++;
      return 'shared';
    };
    advance(999);
    expect(await guard.run(counted, () => 'local')).toBe('local');
    expect(tried).toBe(0);
    advance(1);
    expect(await guard.run(fail, () => 'local')).toBe('local');
    expect(events).toEqual(['down: refused']);
    expect(guard.down).toBe(true);
  });

  it('reports the end of the outage once the dependency answers again', async () => {
    const { guard, events, advance } = setup();
    await guard.run(fail, () => 'local');
    advance(1000);
    expect(
      await guard.run(
        async () => 'shared',
        () => 'local',
      ),
    ).toBe('shared');
    expect(
      await guard.run(
        async () => 'shared',
        () => 'local',
      ),
    ).toBe('shared');
    expect(events).toEqual(['down: refused', 'up']);
    expect(guard.down).toBe(false);
  });
});
