// Runs PGlite on a worker thread and stands in for it in this one: the object drizzle-orm/pglite
// drives (query, exec, transaction), the snapshot backups take, and a lifecycle that never leaves a
// call hanging: a worker that dies rejects every pending call and every later one.
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { AppError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';
import type {
  PgliteHandle,
  PgliteParser,
  PgliteQueryOptions,
  PgliteResults,
  PgliteSnapshot,
  PgliteTransaction,
} from './pglite-handle.js';
import {
  DEFAULT_PGLITE_SETTINGS,
  pgliteSettingParams,
  type PgliteSettings,
} from './pglite-settings.js';
import { fromWireError, type Reply, type Request, type WorkerInit } from './pglite-wire.js';

// Compiled, the worker is the .js next to this file; run from the sources (vitest, whose preload
// registers a TypeScript loader in worker threads), it is the .ts.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './pglite-worker.ts' : './pglite-worker.js',
  import.meta.url,
);

export interface PgliteWorkerOptions {
  /** Where PGlite keeps its files; null for an in-memory database. */
  dataDir: string | null;
  /** Absent while `cfn start` opens the database before its logger exists: see setLogger. */
  logger?: Logger;
  /** How long close() waits for PGlite to shut down cleanly before stopping the thread. */
  closeTimeoutMs?: number;
  /** Heap limits of the worker (tests: make it run out of memory). */
  resourceLimits?: ResourceLimits;
  /** PostgreSQL memory settings; DEFAULT_PGLITE_SETTINGS when absent. */
  settings?: PgliteSettings;
}

/**
 * The worker's JavaScript only passes messages: a small young generation keeps its heap (and the
 * process's RSS) small; PGlite's memory is WebAssembly memory, outside the heap.
 */
const WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 4 };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

const SAMPLE = '2000-01-01 00:00:00';

/** Only identity parsers can cross the thread boundary: send their type OIDs, checked once. */
const rawTypesCache = new WeakMap<Record<number, PgliteParser>, number[]>();
function rawTypesOf(parsers: Record<number, PgliteParser> | undefined): number[] | undefined {
  if (!parsers) return undefined;
  let oids = rawTypesCache.get(parsers);
  if (!oids) {
    oids = Object.keys(parsers).map(Number);
    for (const oid of oids) {
      const parse = parsers[oid];
      if (typeof parse !== 'function' || parse(SAMPLE) !== SAMPLE)
        throw new AppError('INTERNAL', `The parser of type ${oid} cannot run on the PGlite worker`);
    }
    rawTypesCache.set(parsers, oids);
  }
  return oids;
}

export class PgliteWorkerClient implements PgliteHandle {
  readonly #worker: Worker;
  #logger: Logger | undefined;
  readonly #closeTimeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #openTransactions = 0;
  #referenced = true;
  /** Set once the worker has exited (died or closed): every call fails with it. */
  #stopped: Error | undefined;
  #lastError: Error | undefined;
  #closing: Promise<void> | undefined;

  /** Starts the worker and resolves once its PGlite is open. */
  static async start(options: PgliteWorkerOptions): Promise<PgliteWorkerClient> {
    const client = new PgliteWorkerClient(options);
    try {
      await client.#ready;
    } catch (err) {
      client.#closing = Promise.resolve();
      await client.#worker.terminate();
      throw err;
    }
    client.#updateRef();
    return client;
  }

  readonly #ready: Promise<unknown>;

  private constructor(options: PgliteWorkerOptions) {
    this.#logger = options.logger;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.#ready = new Promise((resolve, reject) => this.#pending.set(0, { resolve, reject }));
    this.#worker = new Worker(WORKER_URL, {
      workerData: {
        dataDir: options.dataDir,
        startParams: pgliteSettingParams(options.settings ?? DEFAULT_PGLITE_SETTINGS),
      } satisfies WorkerInit,
      resourceLimits: { ...WORKER_LIMITS, ...options.resourceLimits },
    });
    this.#worker.on('message', (reply: Reply) => this.#onReply(reply));
    this.#worker.on('error', (err) => {
      this.#lastError = err;
      this.#logger?.error({ err }, 'the embedded database worker failed');
    });
    this.#worker.on('messageerror', (err) => {
      // An answer that cannot be read leaves its caller waiting: stop, and fail everything.
      this.#lastError = err;
      void this.#worker.terminate();
    });
    this.#worker.on('exit', (code) => this.#onExit(code));
  }

  /** Where the worker's failures and close warnings are logged from now on. */
  setLogger(logger: Logger): void {
    this.#logger = logger;
  }

  query<T>(
    text: string,
    params?: unknown[],
    options?: PgliteQueryOptions,
  ): Promise<PgliteResults<T>> {
    return this.#query(null, text, params, options);
  }

  exec(text: string): Promise<PgliteResults[]> {
    return this.#call({ op: 'exec', tx: null, text });
  }

  async transaction<T>(fn: (tx: PgliteTransaction) => Promise<T>): Promise<T> {
    // Counted from the start: between two statements of a transaction nothing may be pending.
    this.#openTransactions += 1;
    let closed = false;
    try {
      const txId = await this.#call<number>({ op: 'begin' });
      const tx: PgliteTransaction = {
        query: (text, params, options) => this.#query(txId, text, params, options),
        exec: (text) => this.#call({ op: 'exec', tx: txId, text }),
        rollback: async () => {
          await this.#call({ op: 'rollback', tx: txId });
          closed = true;
        },
        get closed() {
          return closed;
        },
      };
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        await this.#call({ op: 'end', tx: txId, commit: false }).catch(() => {});
        throw err;
      }
      await this.#call({ op: 'end', tx: txId, commit: true });
      return result;
    } finally {
      closed = true;
      this.#openTransactions -= 1;
      this.#updateRef();
    }
  }

  snapshot(): Promise<PgliteSnapshot> {
    return this.#call({ op: 'snapshot' });
  }

  /** Closes PGlite on the worker, then stops the worker; a dead worker is only stopped. */
  close(): Promise<void> {
    return (this.#closing ??= this.#shutdown());
  }

  async #shutdown(): Promise<void> {
    if (!this.#stopped) {
      // A live worker (a dead one is only stopped). Open transactions finish first (PGlite's
      // close waits for them); then later calls fail on the worker ("PGlite is closed"), and
      // once it has stopped, here.
      const closed = this.#call({ op: 'close' });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        closed.then(
          () => false,
          (err: unknown) => {
            this.#logger?.warn({ err }, 'the embedded database did not close cleanly');
            return false;
          },
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), this.#closeTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut)
        this.#logger?.warn(
          { timeoutMs: this.#closeTimeoutMs },
          'the embedded database did not close in time (a transaction still open?): stopping it',
        );
    }
    await this.#worker.terminate();
  }

  #query<T>(
    tx: number | null,
    text: string,
    params: unknown[] | undefined,
    options: PgliteQueryOptions | undefined,
  ): Promise<PgliteResults<T>> {
    let rawTypes: number[] | undefined;
    try {
      rawTypes = rawTypesOf(options?.parsers);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#call({ op: 'query', tx, text, params, rowMode: options?.rowMode, rawTypes });
  }

  #call<T>(request: WithoutId<Request>): Promise<T> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      try {
        this.#worker.postMessage({ ...request, id });
      } catch (err) {
        // Parameters that cannot be cloned (a function, a symbol).
        reject(err);
        return;
      }
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#updateRef();
    });
  }

  #onReply(reply: Reply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(fromWireError(reply.error));
    this.#updateRef();
  }

  #onExit(code: number): void {
    const reason =
      this.#closing !== undefined
        ? new AppError('SERVICE_UNAVAILABLE', 'The embedded database is closed')
        : new AppError(
            'SERVICE_UNAVAILABLE',
            `The embedded database worker stopped (exit code ${code})` +
              (this.#lastError ? `: ${this.#lastError.message}` : ''),
            { cause: this.#lastError },
          );
    this.#stopped = reason;
    if (this.#closing === undefined)
      this.#logger?.error({ code }, 'the embedded database worker stopped');
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(reason);
  }

  /**
   * The worker keeps the process alive only while a call or a transaction is open: work in
   * flight is never dropped by an exit, and an idle database (like an in-process PGlite) holds
   * nothing open.
   */
  #updateRef(): void {
    const busy = this.#pending.size > 0 || this.#openTransactions > 0;
    if (busy === this.#referenced) return;
    this.#referenced = busy;
    if (busy) this.#worker.ref();
    else this.#worker.unref();
  }
}
