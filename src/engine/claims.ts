// The swarms this process runs, each under a lease in the database: the store fences every append
// with it, so a process that lost its lease (a pause, a partition, a restart of Redis or PostgreSQL)
// can never write again. Leases are renewed together; a claim whose lease could not be renewed in
// time is given up here before it can expire there (this process's clock counts from the start of
// the last renewal that succeeded), so a new holder never overlaps a live old one.
import { setMaxListeners } from 'node:events';
import type { Logger } from '../ports/logger.js';
import type { Lease, SwarmStore } from '../ports/swarm-store.js';

export interface Claim {
  swarmId: string;
  lease: Lease;
  /** Aborted when this process must stop working on the swarm (lease lost, given back, halt). */
  readonly signal: AbortSignal;
  /** The lease is no longer this process's (as opposed to given back). */
  lost: boolean;
  /** Taken with the swarm's creation: nothing ran before, nothing needs reading or clearing. */
  fresh: boolean;
  /** A `swarm.run` job works on the claim now. */
  running: boolean;
  /** Tasks of the swarm executing here. */
  tasks: number;
  /** Tells the run to look again whether the swarm has to wait. */
  wake: () => void;
  /** Stops the work under the claim (it is being given back); the lease is kept until release. */
  stop(reason: Error): void;
}

export interface Claims {
  get(swarmId: string): Claim | undefined;
  /**
   * Takes the swarm's lease: the claim, or until when another process holds it, or undefined when
   * there is no such swarm.
   */
  acquire(swarmId: string): Promise<Claim | { heldUntil: Date } | undefined>;
  /** A claim for a lease taken with the swarm's creation. */
  adopt(swarmId: string, lease: Lease): Claim;
  /** Ends the claim and gives its lease up (its expiry frees it anyway if that fails). */
  /**
   * Ends the claim and gives the lease up; `freed`: the swarm's last append freed it already (a
   * finished swarm), so nothing is written.
   */
  release(claim: Claim, freed?: boolean): Promise<void>;
  /** This process stops working on the swarm now: its lease is gone (a fenced append, a halt). */
  lose(swarmId: string, reason: Error): void;
  all(): Claim[];
  stop(): void;
}

export interface ClaimsOptions {
  store: SwarmStore;
  logger: Logger;
  /** Who holds the leases (unique to this process and start). */
  owner: string;
  ttlMs: number;
  /** Take leases whatever their state: the profile where only this process opens the database. */
  force: boolean;
  /** Called once for each claim lost (not for one released). */
  onLost(claim: Claim, reason: Error): void;
}

class LeaseLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
}

export function createClaims(options: ClaimsOptions): Claims {
  const { store, logger, owner, ttlMs } = options;
  const claims = new Map<string, Claim & { controller: AbortController; validUntil: number }>();
  const intervalMs = Math.max(250, Math.floor(ttlMs / 3));
  let renewing = false;

  function make(swarmId: string, lease: Lease, fresh: boolean, since: number) {
    const controller = new AbortController();
    // Every task of the swarm running here listens to it (one listener each, removed at its end).
    setMaxListeners(0, controller.signal);
    const claim = {
      swarmId,
      lease,
      controller,
      signal: controller.signal,
      lost: false,
      fresh,
      running: false,
      tasks: 0,
      wake: () => undefined,
      stop: (reason: Error) => controller.abort(reason),
      validUntil: since + ttlMs,
    };
    claims.get(swarmId)?.controller.abort(new LeaseLostError('claimed again'));
    claims.set(swarmId, claim);
    return claim;
  }

  function lose(swarmId: string, reason: Error): void {
    const claim = claims.get(swarmId);
    if (!claim) return;
    claims.delete(swarmId);
    claim.lost = true;
    claim.controller.abort(reason);
    options.onLost(claim, reason);
  }

  /** Gives up, before they expire in the database, the leases that cannot last until the next try. */
  function giveUpExpiring(err?: unknown): void {
    const deadline = performance.now() + intervalMs * 1.5;
    const expiring = [...claims.values()].filter((c) => c.validUntil < deadline);
    if (!expiring.length) return;
    logger.warn(
      { err, swarms: expiring.length },
      'swarm leases could not be renewed in time; this process stops working on those swarms',
    );
    for (const c of expiring)
      lose(c.swarmId, new LeaseLostError('the lease could not be renewed in time'));
  }

  async function renew(): Promise<void> {
    const started = performance.now();
    const batch = [...claims.values()];
    let timer: NodeJS.Timeout | undefined;
    const held = new Set(
      await Promise.race([
        store.renewLeases(
          owner,
          batch.map((c) => ({ swarmId: c.swarmId, epoch: c.lease.epoch })),
          ttlMs,
        ),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('lease renewal timed out')), ttlMs);
        }),
      ]).finally(() => clearTimeout(timer)),
    );
    for (const c of batch) {
      if (claims.get(c.swarmId) !== c) continue; // released or claimed again meanwhile
      if (held.has(c.swarmId)) c.validUntil = started + ttlMs;
      else lose(c.swarmId, new LeaseLostError('another process holds the lease now'));
    }
  }

  /** Every interval: leases that could not be renewed are given up first (a renewal may hang). */
  function tick(): void {
    giveUpExpiring(renewing ? new Error('the last renewal has not answered') : undefined);
    if (renewing || !claims.size) return;
    renewing = true;
    renew()
      .catch((err: unknown) => giveUpExpiring(err))
      .finally(() => (renewing = false));
  }

  const timer = setInterval(tick, intervalMs);
  timer.unref();

  return {
    get: (swarmId) => claims.get(swarmId),

    async acquire(swarmId) {
      const started = performance.now();
      const got = await store.claimLease(swarmId, owner, ttlMs, options.force);
      if (!got || 'heldUntil' in got) return got;
      return make(swarmId, got.lease, false, started);
    },

    adopt: (swarmId, lease) => make(swarmId, lease, true, performance.now()),

    async release(claim, freed = false) {
      const held = claims.get(claim.swarmId);
      if (held !== claim) return;
      claims.delete(claim.swarmId);
      held.controller.abort(new Error('the claim was released'));
      if (freed) return;
      await store.releaseLease(claim.swarmId, claim.lease).catch((err: unknown) => {
        logger.debug({ err, swarmId: claim.swarmId }, 'lease not released; it expires instead');
      });
    },

    lose,
    all: () => [...claims.values()],
    stop: () => clearInterval(timer),
  };
}
