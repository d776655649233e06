// The PGlite worker: the embedded database (WASM Postgres and its synchronous file I/O) on a thread
// of its own, so that the service's event loop stays free. One PGlite, one session: requests run in
// arrival order as they would in-process, and statements outside a transaction wait for it to end,
// as PGlite itself makes them wait.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { takeSnapshot } from './pglite-handle.js';
import { toWireError, type Reply, type Request, type WorkerInit } from './pglite-wire.js';

if (!parentPort) throw new Error('pglite-worker.js runs as a worker thread only');
const port = parentPort;

function send(reply: Reply): void {
  try {
    port.postMessage(reply);
  } catch (err) {
    // A result that cannot be cloned fails its request, not the worker.
    port.postMessage({ id: reply.id, ok: false, error: toWireError(err) } satisfies Reply);
  }
}

function answer(id: number, work: () => Promise<unknown>): void {
  work().then(
    (value) => send({ id, ok: true, value }),
    (err: unknown) => send({ id, ok: false, error: toWireError(err) }),
  );
}

const keepText = (value: string) => value;
const parsersByTypes = new Map<string, Record<number, typeof keepText>>();

/** Identity parsers for these type OIDs (drizzle keeps dates and intervals as text). */
function parsersFor(rawTypes: number[] | undefined): Record<number, typeof keepText> | undefined {
  if (!rawTypes) return undefined;
  const key = rawTypes.join(',');
  let parsers = parsersByTypes.get(key);
  if (!parsers) {
    parsers = Object.fromEntries(rawTypes.map((oid) => [oid, keepText]));
    parsersByTypes.set(key, parsers);
  }
  return parsers;
}

interface Session {
  tx: Transaction;
  end(commit: boolean, replyId: number): void;
}

const sessions = new Map<number, Session>();
let nextTx = 1;

function sessionOf(tx: number): Session {
  const s = sessions.get(tx);
  if (!s) throw new Error(`Transaction ${tx} is not open`);
  return s;
}

/**
 * Opens a transaction that stays open across messages: answers `id` with its number once BEGIN
 * ran, and the `end` request with the outcome of COMMIT (or ROLLBACK).
 */
function begin(pg: PGlite, id: number): void {
  const txId = nextTx++;
  let endId: number | undefined;
  pg.transaction(async (tx) => {
    const commit = await new Promise<boolean>((resolve) => {
      sessions.set(txId, {
        tx,
        end(c, replyId) {
          endId = replyId;
          resolve(c);
        },
      });
      send({ id, ok: true, value: txId });
    });
    if (!commit && !tx.closed) await tx.rollback();
  })
    .then(
      () => send({ id: endId ?? id, ok: true, value: undefined }),
      // Before BEGIN ran (PGlite closing), the error answers `begin` itself.
      (err: unknown) => send({ id: endId ?? id, ok: false, error: toWireError(err) }),
    )
    .finally(() => sessions.delete(txId));
}

function handle(pg: PGlite, req: Request): void {
  switch (req.op) {
    case 'query':
      return answer(req.id, () => {
        const options = { rowMode: req.rowMode, parsers: parsersFor(req.rawTypes) };
        return req.tx === null
          ? pg.query(req.text, req.params, options)
          : sessionOf(req.tx).tx.query(req.text, req.params, options);
      });
    case 'exec':
      return answer(req.id, () =>
        req.tx === null ? pg.exec(req.text) : sessionOf(req.tx).tx.exec(req.text),
      );
    case 'begin':
      return begin(pg, req.id);
    case 'rollback':
      return answer(req.id, () => sessionOf(req.tx).tx.rollback());
    case 'end':
      try {
        return sessionOf(req.tx).end(req.commit, req.id);
      } catch (err) {
        return send({ id: req.id, ok: false, error: toWireError(err) });
      }
    case 'snapshot':
      return answer(req.id, () => takeSnapshot(pg));
    case 'close':
      return answer(req.id, () => pg.close());
  }
}

const init = workerData as WorkerInit;
let pg: PGlite | undefined;
try {
  const options = { startParams: [...PGlite.defaultStartParams, ...init.startParams] };
  pg = await (init.dataDir === null
    ? PGlite.create(options)
    : PGlite.create(init.dataDir, options));
} catch (err) {
  // The owner stops this thread on reading it.
  send({ id: 0, ok: false, error: toWireError(err) });
}
if (pg) {
  const ready = pg;
  port.on('message', (req: Request) => handle(ready, req));
  send({ id: 0, ok: true, value: undefined });
}
