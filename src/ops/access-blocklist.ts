// The access blocklist: client addresses refused on /api before their key is looked up. An
// address is blocked automatically after `threshold` failed authentications (an unknown or
// revoked key) within `windowMs`, for `durationMs`; an operator adds and removes entries by hand
// (with a reason and an expiry, audited). Automatic blocks live in a FailureCounter (this
// process's memory, or Redis shared by the replicas); manual ones in the database, read by each
// replica into memory every `refreshMs` and after each change it makes, so checking a request
// costs no database work. Allow-listed addresses (CFN_AUTH_BLOCK_ALLOW) are never blocked.
import { ValidationError, NotFoundError } from '../domain/errors.js';
import type {
  AutomaticBlock,
  FailureCounter,
  ManualBlock,
  ManualBlockStore,
} from '../ports/access-blocks.js';
import type { AuditedWrites } from '../ports/audited-writes.js';
import type { Logger } from '../ports/logger.js';
import type { ActionMeta, Actor } from './api-keys.js';
import { addressMatcher, canonicalAddress } from './client-address.js';

export type BlockSource = 'automatic' | 'manual';

export interface Block {
  address: string;
  source: BlockSource;
  until: Date;
}

/** One line of `cfn security blocklist list`. */
export interface BlockEntry extends Block {
  /** Manual entries: the operator's reason; automatic: null. */
  reason: string | null;
  createdAt: Date | null;
  createdBy: string | null;
}

export interface BlockLimits {
  /** Failures that block an address; 0: no automatic blocks. */
  threshold: number;
  windowMs: number;
  durationMs: number;
}

export interface AccessBlocklistDeps {
  limits: BlockLimits;
  /** CFN_AUTH_BLOCK_ALLOW: addresses and subnets never blocked. */
  allow: readonly string[];
  counter: FailureCounter;
  /** Reads of the manual entries (writes go through `writes`, with their audit entries). */
  manual: ManualBlockStore;
  writes: AuditedWrites;
  logger: Logger;
  /** Called once per block made: automatic here (its one replica), manual by add. */
  onBlock?: (source: BlockSource) => void;
  /** How often the manual entries are read again (other replicas' changes). Default 5 s. */
  refreshMs?: number;
  now?: () => Date;
}

export interface AccessBlocklist {
  /** The block in force on `address` now, if any. Never throws (a failure admits). */
  check(address: string | undefined): Promise<Block | undefined>;
  /** Counts a failed authentication from `address`. Never throws. */
  recordFailure(address: string | undefined): Promise<void>;
  /** Every block in force, manual and automatic, by address. */
  list(): Promise<BlockEntry[]>;
  /** How many distinct addresses are blocked now (auth_blocked_clients). */
  countBlocked(): Promise<number>;
  add(
    input: { address: string; reason: string; durationMs: number },
    actor: Actor,
    meta?: ActionMeta,
  ): Promise<BlockEntry>;
  /** Lifts both the manual entry and the automatic block; NotFoundError when neither existed. */
  remove(
    address: string,
    actor: Actor,
    meta?: ActionMeta,
  ): Promise<{ address: string; manual: boolean; automatic: boolean }>;
  /** Reads the manual entries now. */
  refresh(): Promise<void>;
  /** Loads the manual entries and keeps them fresh until stop(). */
  start(): Promise<void>;
  stop(): void;
}

/** Longest a manual entry may last: ten years. */
export const MAX_MANUAL_BLOCK_MS = 10 * 365 * 86_400_000;

const automaticEntry = (b: AutomaticBlock): BlockEntry => ({
  address: b.address,
  source: 'automatic',
  until: b.until,
  reason: null,
  createdAt: null,
  createdBy: null,
});

const manualEntry = (b: ManualBlock): BlockEntry => ({
  address: b.address,
  source: 'manual',
  until: b.expiresAt,
  reason: b.reason,
  createdAt: b.createdAt,
  createdBy: b.createdBy,
});

export function createAccessBlocklist(deps: AccessBlocklistDeps): AccessBlocklist {
  const now = deps.now ?? (() => new Date());
  const allowed = addressMatcher(deps.allow);
  const automatic = deps.limits.threshold > 0;
  /** Manual entries by address, as last read. */
  let manual = new Map<string, ManualBlock>();
  let refreshFailing = false;
  let timer: NodeJS.Timeout | undefined;

  const key = (raw: string | undefined) => {
    const address = raw === undefined ? undefined : canonicalAddress(raw);
    return address === undefined || allowed(address) ? undefined : address;
  };

  async function refresh(): Promise<void> {
    const rows = await deps.manual.listActive(now());
    manual = new Map(rows.map((r) => [r.address, r]));
  }

  async function refreshQuietly(): Promise<void> {
    try {
      await refresh();
      if (refreshFailing) deps.logger.info('access blocklist read again from the database');
      refreshFailing = false;
    } catch (err) {
      // The last entries read stay in force meanwhile.
      if (!refreshFailing)
        deps.logger.warn({ err }, 'access blocklist not read from the database; keeping the last');
      refreshFailing = true;
    }
  }

  async function automaticBlocks(): Promise<AutomaticBlock[]> {
    try {
      return await deps.counter.list(now());
    } catch (err) {
      deps.logger.warn({ err }, 'automatic blocks not read');
      return [];
    }
  }

  function activeManual(): ManualBlock[] {
    const t = now().getTime();
    return [...manual.values()].filter((b) => b.expiresAt.getTime() > t);
  }

  return {
    async check(raw) {
      const address = key(raw);
      if (!address) return undefined;
      const entry = manual.get(address);
      const t = now();
      if (entry && entry.expiresAt > t)
        return { address, source: 'manual', until: entry.expiresAt };
      if (!automatic) return undefined;
      try {
        const until = await deps.counter.blockedUntil(address, t);
        return until ? { address, source: 'automatic', until } : undefined;
      } catch (err) {
        deps.logger.warn({ err }, 'automatic block not checked; request admitted');
        return undefined;
      }
    },

    async recordFailure(raw) {
      const address = key(raw);
      if (!address || !automatic) return;
      try {
        const block = await deps.counter.recordFailure(address, deps.limits, now());
        if (!block) return;
        deps.onBlock?.('automatic');
        deps.logger.warn(
          {
            ip: address,
            until: block.until.toISOString(),
            failures: deps.limits.threshold,
            windowMs: deps.limits.windowMs,
          },
          'client address blocked after failed authentications',
        );
      } catch (err) {
        deps.logger.warn({ err }, 'failed authentication not counted');
      }
    },

    async list() {
      const entries = [
        ...activeManual().map(manualEntry),
        ...(await automaticBlocks()).map(automaticEntry),
      ];
      return entries.sort(
        (a, b) => a.address.localeCompare(b.address) || a.source.localeCompare(b.source),
      );
    },

    async countBlocked() {
      const addresses = new Set(activeManual().map((b) => b.address));
      for (const b of await automaticBlocks()) addresses.add(b.address);
      return addresses.size;
    },

    async add(input, actor, meta = {}) {
      const address = canonicalAddress(input.address);
      if (!address) throw new ValidationError('address must be an IPv4 or IPv6 address');
      if (allowed(address))
        throw new ValidationError(
          `${address} is in CFN_AUTH_BLOCK_ALLOW and is never blocked; remove it from there first`,
        );
      const reason = input.reason.trim();
      if (!reason || reason.length > 500)
        throw new ValidationError('reason must be 1 to 500 characters');
      if (
        !Number.isInteger(input.durationMs) ||
        input.durationMs < 1000 ||
        input.durationMs > MAX_MANUAL_BLOCK_MS
      )
        throw new ValidationError('the duration must be between 1 second and 10 years');
      const createdAt = now();
      const expiresAt = new Date(createdAt.getTime() + input.durationMs);
      const block = await deps.writes.run(async (tx) => {
        const saved = await tx.blocks.upsert({
          address,
          reason,
          createdAt,
          createdBy: actor.name,
          expiresAt,
        });
        await tx.audit.append({
          action: 'blocklist.add',
          actorKeyId: actor.keyId,
          actorName: actor.name,
          target: address,
          details: { reason, expiresAt: expiresAt.toISOString() },
          requestId: meta.requestId ?? null,
          ip: meta.ip ?? null,
        });
        return saved;
      });
      manual.set(address, block);
      deps.onBlock?.('manual');
      return manualEntry(block);
    },

    async remove(raw, actor, meta = {}) {
      const address = canonicalAddress(raw);
      if (!address) throw new NotFoundError('Blocked address', raw);
      const automaticNow = await deps.counter.blockedUntil(address, now()).catch(() => undefined);
      const result = await deps.writes.run(async (tx) => {
        const removed = await tx.blocks.remove(address);
        if (!removed && !automaticNow) throw new NotFoundError('Blocked address', address);
        const outcome = { address, manual: removed !== undefined, automatic: !!automaticNow };
        await tx.audit.append({
          action: 'blocklist.remove',
          actorKeyId: actor.keyId,
          actorName: actor.name,
          target: address,
          details: { manual: outcome.manual, automatic: outcome.automatic },
          requestId: meta.requestId ?? null,
          ip: meta.ip ?? null,
        });
        return outcome;
      });
      // After the commit: an entry that could not be audited lifts nothing. Its count starts over.
      await deps.counter.unblock(address).catch((err: unknown) => {
        deps.logger.warn({ err, ip: address }, 'automatic block not lifted in the shared store');
      });
      manual.delete(address);
      return result;
    },

    refresh,

    async start() {
      await refreshQuietly();
      const every = deps.refreshMs ?? 5000;
      timer = setInterval(() => void refreshQuietly(), every);
      timer.unref();
    },

    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/**
 * Failure counts and automatic blocks in this process's memory (the embedded service, and each
 * replica's fallback while Redis is away), bounded in size.
 */
export function createMemoryFailureCounter(maxAddresses = 100_000): FailureCounter {
  const counts = new Map<string, { n: number; resetAt: number }>();
  const blocked = new Map<string, number>();
  const sweep = (t: number) => {
    for (const [a, c] of counts) if (c.resetAt <= t) counts.delete(a);
    for (const [a, until] of blocked) if (until <= t) blocked.delete(a);
  };
  return {
    async recordFailure(address, limits, now) {
      const t = now.getTime();
      if (counts.size >= maxAddresses) sweep(t);
      // Still full of live counts: a flood of addresses; start over rather than grow.
      if (counts.size >= maxAddresses) counts.clear();
      let c = counts.get(address);
      if (!c || c.resetAt <= t) {
        c = { n: 0, resetAt: t + limits.windowMs };
        counts.set(address, c);
      }
      c.n += 1;
      if (c.n < limits.threshold) return undefined;
      counts.delete(address);
      const wasBlocked = (blocked.get(address) ?? 0) > t;
      const until = t + limits.durationMs;
      if (blocked.size >= maxAddresses) sweep(t);
      blocked.set(address, until);
      return wasBlocked ? undefined : { address, until: new Date(until) };
    },
    async blockedUntil(address, now) {
      const until = blocked.get(address);
      if (until === undefined) return undefined;
      if (until <= now.getTime()) {
        blocked.delete(address);
        return undefined;
      }
      return new Date(until);
    },
    async list(now) {
      sweep(now.getTime());
      return [...blocked].map(([address, until]) => ({ address, until: new Date(until) }));
    },
    async unblock(address) {
      counts.delete(address);
      return blocked.delete(address);
    },
  };
}
