// The messages between the PGlite worker and the thread that owns it, and errors on the wire: a
// Postgres error keeps its fields (code, constraint, detail, ...) across the thread boundary.

/** What the worker is started with (`workerData`): a directory, or null for an in-memory database. */
export interface WorkerInit {
  dataDir: string | null;
  /** PostgreSQL start parameters after PGlite's own (`-c name=value` pairs). */
  startParams: string[];
}

/** `tx` names a transaction opened by `begin`; null runs the statement outside any transaction. */
export type Request =
  | {
      id: number;
      op: 'query';
      tx: number | null;
      text: string;
      params: unknown[] | undefined;
      rowMode: 'array' | 'object' | undefined;
      /** Type OIDs whose text is kept as is (drizzle's identity parsers). */
      rawTypes: number[] | undefined;
    }
  | { id: number; op: 'exec'; tx: number | null; text: string }
  | { id: number; op: 'begin' }
  | { id: number; op: 'rollback'; tx: number }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'snapshot' }
  | { id: number; op: 'close' };

/** Answers carry the request's id; id 0 answers the start-up (PGlite ready, or why not). */
export type Reply =
  { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
  /** The error's own scalar properties: a DatabaseError's code, constraint, detail, table, ... */
  props: Record<string, string | number | boolean | null>;
}

/** Properties not worth the copy: the statement's parameters (large, and maybe secret). */
const SKIPPED = new Set(['params', 'queryOptions']);

export function toWireError(err: unknown): WireError {
  if (!(err instanceof Error))
    return { name: 'Error', message: String(err), stack: undefined, props: {} };
  const props: WireError['props'] = {};
  for (const [k, v] of Object.entries(err)) {
    if (SKIPPED.has(k)) continue;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      props[k] = v;
  }
  return { name: err.name, message: err.message, stack: err.stack, props };
}

/** The worker's error rebuilt in this thread: same name, message and fields, the worker's stack. */
export function fromWireError(w: WireError): Error {
  const err = new Error(w.message);
  Object.assign(err, w.props);
  err.name = w.name;
  if (w.stack) err.stack = w.stack;
  return err;
}
