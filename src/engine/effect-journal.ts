// The effect journal as the engine uses it: a completed call's result is kept in memory from the
// moment it is known until the database has it, written on its own and retried until it is durable,
// and found by look-ups meanwhile. So neither a database outage nor a job run again after a failed
// write repeats a completed call; only a process that dies before the write loses one.
import type { Logger } from '../ports/logger.js';
import { UnstorableError, type JournalEntry, type SwarmStore } from '../ports/swarm-store.js';

export interface EffectJournal {
  /** The entry under `key`: still in memory, or (unless `pendingOnly`) in the database. */
  get(key: string, pendingOnly?: boolean): Promise<JournalEntry | undefined>;
  /**
   * Records a completed effect. It is written at once and again until the database takes it; the
   * promise resolves when it is durable (rejects only if the database refuses the values).
   */
  put(entry: JournalEntry): Promise<void>;
  /** This task's entries not yet known to be durable (its outcome's append carries them too). */
  pending(swarmId: string, taskId: string): JournalEntry[];
  /**
   * Waits up to `timeoutMs` for the entries in memory to be durable, then stops writing and forgets
   * the rest (the engine halts: the database is about to be replaced). Returns how many were dropped.
   */
  drain(timeoutMs: number): Promise<number>;
  /** Writes again after a drain. */
  reopen(): void;
}

/**
 * Short and steady: once the database answers again, an entry must be durable before another
 * process that took the swarm over looks it up (it waits TAKEOVER_SETTLE_MS for that).
 */
export const JOURNAL_RETRY_MS = 200;
/** How long a process taking over a task left running elsewhere waits before its first look-up. */
export const TAKEOVER_SETTLE_MS = 3 * JOURNAL_RETRY_MS;

export function createEffectJournal(store: SwarmStore, logger: Logger): EffectJournal {
  const pending = new Map<string, { entry: JournalEntry; durable: Promise<void> }>();
  /** Wakes the retry loops (a drain ends them). */
  let stopped = new AbortController();

  const pause = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });

  async function writeUntilDurable(entry: JournalEntry, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throw new Error('the journal was drained: entry dropped');
      try {
        await store.journalPut(entry);
        if (attempt > 0)
          logger.info({ key: entry.key, attempts: attempt + 1 }, 'journal entry durable');
        return;
      } catch (err) {
        if (err instanceof UnstorableError) {
          logger.error({ err, key: entry.key }, 'journal entry refused by the database');
          throw err;
        }
        if (attempt === 0)
          logger.warn(
            { err, key: entry.key, swarmId: entry.swarmId },
            'journal entry not durable yet; writing it again until it is',
          );
        await pause(JOURNAL_RETRY_MS, signal);
      }
    }
  }

  return {
    async get(key, pendingOnly = false) {
      const held = pending.get(key);
      if (held) return held.entry;
      return pendingOnly ? undefined : store.journalGet(key);
    },

    put(entry) {
      const held = pending.get(entry.key);
      if (held) return held.durable;
      const durable = writeUntilDurable(entry, stopped.signal).finally(() => {
        if (pending.get(entry.key)?.entry === entry) pending.delete(entry.key);
      });
      durable.catch(() => undefined); // callers that wait see the error; the rest need not
      pending.set(entry.key, { entry, durable });
      return durable;
    },

    pending(swarmId, taskId) {
      const out: JournalEntry[] = [];
      for (const { entry } of pending.values())
        if (entry.swarmId === swarmId && entry.taskId === taskId) out.push(entry);
      return out;
    },

    async drain(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...pending.values()].map((p) => p.durable)),
        new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
      const dropped = pending.size;
      stopped.abort();
      await Promise.allSettled([...pending.values()].map((p) => p.durable));
      pending.clear();
      if (dropped)
        logger.warn({ dropped }, 'journal entries dropped: they were not durable in time');
      return dropped;
    },

    reopen() {
      if (stopped.signal.aborted) stopped = new AbortController();
    },
  };
}
