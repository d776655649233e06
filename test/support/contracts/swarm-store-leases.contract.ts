// The SwarmStore contract for leases: fenced appends, claims, renewals and releases.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { foldEvents } from '../../../src/domain/cfn/state.js';
import { FencedAppendError, type Lease, type SwarmStore } from '../../../src/ports/swarm-store.js';
import { append, implTask, newSwarm } from './swarm-store-kit.js';

/** Registers the lease tests in the calling describe block; `opened` gives its store. */
export function leaseContract(opened: () => SwarmStore): void {
  it('fences appends: only the lease holder of the latest epoch writes; facts without a lease always do', async () => {
    const store = opened();
    const { id, state } = await newSwarm(store);
    const first = await store.claimLease(id, 'worker-a', 60_000, false);
    expect(first).toMatchObject({ lease: { epoch: 1, owner: 'worker-a' } });
    const a = (first as { lease: Lease }).lease;
    // Held by worker-a: worker-b is told until when, unless it forces the claim.
    const refused = await store.claimLease(id, 'worker-b', 60_000, false);
    expect((refused as { heldUntil: Date }).heldUntil.getTime()).toBeGreaterThan(Date.now());
    await append(
      store,
      id,
      state,
      [{ type: 'iteration.started', iteration: 1, feedback: [] }],
      [],
      a,
    );
    expect(await store.renewLeases('worker-a', [{ swarmId: id, epoch: 1 }], 60_000)).toEqual([id]);
    const b = ((await store.claimLease(id, 'worker-b', 60_000, true)) as { lease: Lease }).lease;
    expect(b).toEqual({ epoch: 2, owner: 'worker-b' });
    // worker-a lost it: its append is refused, its renewal finds nothing, its release is a no-op.
    const stale = structuredClone(state);
    await expect(
      append(store, id, stale, [{ type: 'task.scheduled', ...implTask(1) }], [], a),
    ).rejects.toBeInstanceOf(FencedAppendError);
    expect(await store.renewLeases('worker-a', [{ swarmId: id, epoch: 1 }], 60_000)).toEqual([]);
    await store.releaseLease(id, a);
    await append(store, id, state, [{ type: 'task.scheduled', ...implTask(1) }], [], b);
    // A fenced append in a statement shared with other swarms fails alone.
    const other = await newSwarm(store);
    const [fenced, fine] = await Promise.allSettled([
      append(
        store,
        id,
        structuredClone(state),
        [{ type: 'task.scheduled', ...implTask(2) }],
        [],
        a,
      ),
      append(store, other.id, other.state, [
        { type: 'iteration.started', iteration: 1, feedback: [] },
      ]),
    ]);
    expect(fenced.status === 'rejected' && fenced.reason).toBeInstanceOf(FencedAppendError);
    expect(fine.status).toBe('fulfilled');
    // Two appends to one swarm in one statement, the current lease's and then a stale one's
    // built on it: the first is written, the stale one refused.
    const [current, staleToo] = await Promise.allSettled([
      append(store, id, state, [{ type: 'task.scheduled', ...implTask(2) }], [], b),
      append(store, id, state, [{ type: 'task.scheduled', ...implTask(3) }], [], a),
    ]);
    expect(current.status).toBe('fulfilled');
    expect(staleToo.status === 'rejected' && staleToo.reason).toBeInstanceOf(FencedAppendError);
    const again = foldEvents((await store.events(id)).map((e) => e.data));
    await append(store, id, again, [{ type: 'swarm.cancel_requested', by: 'api' }]);
    expect((await store.events(id)).map((e) => e.type)).toEqual([
      'swarm.created',
      'iteration.started',
      'task.scheduled',
      'task.scheduled',
      'swarm.cancel_requested',
    ]);
    // Released, or expired: anyone may claim it again.
    await store.releaseLease(id, b);
    expect(await store.claimLease(id, 'worker-c', 1, false)).toMatchObject({
      lease: { epoch: 3 },
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.claimLease(id, 'worker-a', 60_000, false)).toMatchObject({
      lease: { epoch: 4, owner: 'worker-a' },
    });
    expect(await store.claimLease(randomUUID(), 'worker-a', 60_000, false)).toBeUndefined();
  });

  it("frees a finished swarm's lease with its last append", async () => {
    const store = opened();
    const { id, state } = await newSwarm(store);
    const a = ((await store.claimLease(id, 'worker-a', 60_000, false)) as { lease: Lease }).lease;
    await append(
      store,
      id,
      state,
      [{ type: 'iteration.started', iteration: 1, feedback: [] }],
      [],
      a,
    );
    expect(await store.claimLease(id, 'worker-b', 60_000, false)).toHaveProperty('heldUntil');
    await append(
      store,
      id,
      state,
      [{ type: 'swarm.completed', status: 'completed', reason: 'done' }],
      [],
      a,
    );
    expect(await store.claimLease(id, 'worker-b', 60_000, false)).toMatchObject({
      lease: { epoch: 2, owner: 'worker-b' },
    });
  });
}
