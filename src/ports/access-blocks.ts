// The two halves of the access blocklist: the failed-authentication counts and the automatic
// blocks they cause (per process, or shared in Redis), and the blocks an operator added by hand
// (in the database, so they survive a restart and every replica sees them).

export interface AutomaticBlock {
  address: string;
  until: Date;
}

export interface FailureCounter {
  /**
   * Counts one failed authentication from `address`. Reaching `threshold` failures within
   * `windowMs` of the first blocks the address for `durationMs` and starts a new count: the
   * block is returned to exactly one caller, the one whose failure made it.
   */
  recordFailure(
    address: string,
    limits: { threshold: number; windowMs: number; durationMs: number },
    now: Date,
  ): Promise<AutomaticBlock | undefined>;
  /** When the automatic block on `address` ends, if it is blocked now. */
  blockedUntil(address: string, now: Date): Promise<Date | undefined>;
  /** Every address blocked now, with its end. */
  list(now: Date): Promise<AutomaticBlock[]>;
  /** Lifts the automatic block and forgets the count; true when there was a block. */
  unblock(address: string): Promise<boolean>;
}

export interface ManualBlock {
  address: string;
  reason: string;
  createdAt: Date;
  /** Name of the API key that added it (or `cli`). */
  createdBy: string;
  expiresAt: Date;
}

export interface ManualBlockStore {
  /** Entries that have not expired at `now`. */
  listActive(now: Date): Promise<ManualBlock[]>;
  /** Adds the entry, or replaces the one for the same address. */
  upsert(block: ManualBlock): Promise<ManualBlock>;
  /** Removes the entry; the removed one, if there was one. */
  remove(address: string): Promise<ManualBlock | undefined>;
  /** Deletes entries expired before `cutoff`; how many went. */
  deleteExpired(cutoff: Date): Promise<number>;
}
