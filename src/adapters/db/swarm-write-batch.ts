// Group commit for the swarm event log: appends (and effect-journal rows) that arrive while writes
// are in flight are written together by the next one, as ONE statement — events, the projections of
// the tasks, iterations and swarms they touch, and journal rows — so a batch is one round trip and
// one transaction whatever its size. Two statements may be in flight (one commits while the next
// executes), never two of one swarm. Nothing resolves before its batch has committed. An append made
// under a lease is fenced: the statement fails when the lease is no longer the swarm's.
import type { SwarmEvent } from '../../domain/cfn/spec.js';
import { findTask, type SwarmState, type TaskState } from '../../domain/cfn/state.js';
import {
  ConcurrentAppendError,
  FencedAppendError,
  UnstorableError,
  type JournalEntry,
  type Lease,
} from '../../ports/swarm-store.js';
import type { RawQuery } from './database.js';
import { escapeObject, mayNeedEscaping, storableJson, storableText } from './json-codec.js';

interface EventRow {
  s: string;
  q: number;
  t: string;
  d: SwarmEvent;
  r: string | null;
}
interface TaskRow {
  s: string;
  id: string;
  it: number;
  ph: string;
  sl: number;
  att: number;
  ag: string | null;
  st: string;
  out: Record<string, unknown> | null;
  err: string | null;
  ti: number;
  tou: number;
  c: number;
  w: string | null;
  started: boolean;
  ended: boolean;
}
interface IterationRow {
  s: string;
  n: number;
  fb: string[];
  gs: number | null;
  gp: boolean | null;
  cs: number | null;
  cp: boolean | null;
  d: string | null;
  db: string | null;
}
interface SwarmRow {
  id: string;
  st: string;
  it: number;
  d: string | null;
  rs: string | null;
  q: number;
  ti: number;
  tou: number;
  c: number;
  pb: string | null;
  done: boolean;
  /** The lease the statement's appends to this swarm were made under (none: API facts only). */
  e?: number;
  o?: string;
}
interface JournalRow {
  k: string;
  s: string;
  t: string;
  kind: string;
  h: string;
  resp: Record<string, unknown>;
  p: string | null;
  m: string | null;
  ti: number;
  tou: number;
  c: number;
  d: number;
}

/** One caller's share of a batch: rows built when it was submitted (the state moves on after). */
interface Item {
  /** The swarm it belongs to: its items are written in order, one statement at a time. */
  swarmId: string;
  events: EventRow[];
  tasks: TaskRow[];
  iterations: IterationRow[];
  swarm: SwarmRow | null;
  journal: JournalRow[];
  /** Set for appends: the error a conflict on the (swarm_id, seq) key becomes. */
  conflict?: () => Error;
  /** Set for appends: the fold the append was made on (the caller's state object). */
  basis?: SwarmState;
  /** Set for appends made under a lease: the statement fails unless it is still the swarm's. */
  lease?: Lease;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const BATCH_SQL = `
with
evin as materialized (
  select * from jsonb_to_recordset($1::jsonb) as x(s uuid, q int, t text, d jsonb, r text)),
ev as (
  insert into events (swarm_id, seq, type, data, request_id)
  select s, q, t, d, r from evin
  returning 1),
-- A task row's spec is its task.scheduled event without the type, taken from this batch's events
-- rather than sent twice (the prompt is most of an append's bytes); an update never changes it.
sp as (
  select s, d->>'taskId' as id, d - 'type' as spec from evin where t = 'task.scheduled'),
tk as (
  insert into agent_tasks (swarm_id, task_id, iteration, phase, slot, attempt, agent, status, spec,
                           output, error, input_tokens, output_tokens, cost_usd, worker, started_at, ended_at)
  select x.s, x.id, it, ph, sl, att, ag, st, coalesce(sp.spec, '{}'), out, err, ti, tou, c, w,
         case when started then now() end, case when ended then now() end
  from jsonb_to_recordset($2::jsonb) as x(s uuid, id text, it int, ph text, sl int, att int, ag text,
       st text, out jsonb, err text, ti bigint, tou bigint, c float8, w text,
       started boolean, ended boolean)
  left join sp on sp.s = x.s and sp.id = x.id
  on conflict (swarm_id, task_id) do update set
    status = excluded.status, output = excluded.output, error = excluded.error,
    input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
    cost_usd = excluded.cost_usd, worker = coalesce(excluded.worker, agent_tasks.worker),
    started_at = coalesce(agent_tasks.started_at, excluded.started_at),
    ended_at = coalesce(excluded.ended_at, agent_tasks.ended_at)
  returning 1),
it as (
  insert into swarm_iterations (swarm_id, iteration, feedback, gate_score, gate_passed,
                                consensus_score, consensus_passed, decision, decision_by)
  select s, n, fb, gs, gp, cs, cp, d, db
  from jsonb_to_recordset($3::jsonb) as x(s uuid, n int, fb jsonb, gs float8, gp boolean, cs float8,
       cp boolean, d text, db text)
  on conflict (swarm_id, iteration) do update set
    feedback = excluded.feedback, gate_score = excluded.gate_score, gate_passed = excluded.gate_passed,
    consensus_score = excluded.consensus_score, consensus_passed = excluded.consensus_passed,
    decision = excluded.decision, decision_by = excluded.decision_by
  returning 1),
sw as (
  update swarms w set status = x.st, iteration = x.it, decision = x.d, reason = x.rs, last_seq = x.q,
    input_tokens = x.ti, output_tokens = x.tou, cost_usd = x.c, playbook_entry_id = x.pb,
    updated_at = now(), completed_at = case when x.done then coalesce(w.completed_at, now()) end,
    -- A finished swarm's lease is free with its last append (no release statement of its own).
    lease_expires_at = case when x.done then null else w.lease_expires_at end
  from jsonb_to_recordset($4::jsonb) as x(id uuid, st text, it int, d text, rs text, q int,
       ti bigint, tou bigint, c float8, pb uuid, done boolean, e int, o text)
  where w.id = x.id
  -- The fence: the row is locked and read at its latest version by this update, so a claim by
  -- another process either waits for this statement or is seen here, and fails it.
  returning cfn_fence(x.e is null or (w.lease_epoch = x.e and w.lease_owner = x.o), w.id) as f),
jr as (
  insert into agent_calls (key, swarm_id, task_id, kind, request_hash, response, provider, model,
                           input_tokens, output_tokens, cost_usd, duration_ms)
  select k, s, t, kind, h, resp, p, m, ti, tou, c, d
  from jsonb_to_recordset($5::jsonb) as x(k text, s uuid, t text, kind text, h text, resp jsonb,
       p text, m text, ti bigint, tou bigint, c float8, d int)
  on conflict (key) do nothing
  returning 1)
-- sw's fence is read here too, so that no plan can leave its RETURNING unevaluated.
select (select count(*) from ev)::int as events, (select bool_and(f) from sw) as fenced`;

function sqlState(err: unknown): string | undefined {
  for (
    let e: unknown = err, depth = 0;
    e && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
const isUniqueViolation = (err: unknown) => sqlState(err) === '23505';
/** Raised by cfn_fence (migration 0005). */
const isFenced = (err: unknown) => sqlState(err) === 'CF409';
/** Class 22, data exception: the values themselves were refused. */
const isDataException = (err: unknown) => sqlState(err)?.startsWith('22') ?? false;
/** Errors that belong to one item of a batch: written alone, only that one fails. */
const isItemError = (err: unknown) =>
  isUniqueViolation(err) || isFenced(err) || isDataException(err);

function taskRow(
  swarmId: string,
  t: TaskState,
  flags: { w: string | null; started: boolean; ended: boolean },
): TaskRow {
  return {
    s: swarmId,
    id: t.taskId,
    it: t.iteration,
    ph: t.phase,
    sl: t.slot,
    att: t.attempt,
    ag: t.agent ?? (t.command ? `command: ${t.command}` : null),
    st: t.status,
    out: t.status === 'succeeded' ? (t.output ?? null) : null,
    err: t.status === 'failed' ? (t.reason ?? null) : null,
    ti: t.tokens.input,
    tou: t.tokens.output,
    c: t.costUsd,
    ...flags,
  };
}

/** The rows an append writes: its events and the projections of what they touched in `state`. */
function appendRows(
  swarmId: string,
  expectedSeq: number,
  events: SwarmEvent[],
  state: SwarmState,
  requestId: string | null,
): Pick<Item, 'events' | 'tasks' | 'iterations' | 'swarm'> {
  const tasks = new Map<string, TaskRow>();
  const iterations = new Set<number>();
  const flags = new Map<string, { w: string | null; started: boolean; ended: boolean }>();
  events.forEach((e) => {
    switch (e.type) {
      case 'task.scheduled':
      case 'task.started':
      case 'task.succeeded':
      case 'task.failed': {
        const f = flags.get(e.taskId) ?? { w: null, started: false, ended: false };
        if (e.type === 'task.started') {
          f.started = true;
          f.w = e.worker;
        }
        if (e.type === 'task.succeeded' || e.type === 'task.failed') f.ended = true;
        flags.set(e.taskId, f);
        break;
      }
      case 'iteration.started':
      case 'gate.evaluated':
      case 'consensus.evaluated':
      case 'decision.made':
        iterations.add(e.iteration);
        break;
      default:
        break;
    }
  });
  for (const [taskId, f] of flags) {
    const t = findTask(state, taskId);
    if (t) tasks.set(taskId, taskRow(swarmId, t, f));
  }
  const last = state.iterations[state.iterations.length - 1];
  return {
    events: events.map((d, i) => ({
      s: swarmId,
      q: expectedSeq + 1 + i,
      t: d.type,
      d,
      r: requestId,
    })),
    tasks: [...tasks.values()],
    iterations: state.iterations
      .filter((it) => iterations.has(it.n))
      .map((it) => ({
        s: swarmId,
        n: it.n,
        fb: it.feedback,
        gs: it.gate?.score ?? null,
        gp: it.gate?.passed ?? null,
        cs: it.consensus?.score ?? null,
        cp: it.consensus?.passed ?? null,
        d: it.decision?.decision ?? null,
        db: it.decision?.by ?? null,
      })),
    swarm: {
      id: swarmId,
      st: state.status,
      it: last?.n ?? 0,
      d: last?.decision?.decision ?? null,
      rs: state.completion?.reason ?? null,
      q: expectedSeq + events.length,
      ti: state.tokens.input,
      tou: state.tokens.output,
      c: state.costUsd,
      pb: state.playbook?.entryId ?? null,
      done: !!state.completion,
    },
  };
}

function journalRow(e: JournalEntry): JournalRow {
  return {
    k: e.key,
    s: e.swarmId,
    t: e.taskId,
    kind: e.kind,
    h: e.requestHash,
    resp: e.response,
    p: e.provider ?? null,
    m: e.model ?? null,
    ti: e.inputTokens,
    tou: e.outputTokens,
    c: e.costUsd,
    d: e.durationMs,
  };
}

export interface SwarmWriteBatch {
  append(
    swarmId: string,
    expectedSeq: number,
    events: SwarmEvent[],
    state: SwarmState,
    requestId: string | null,
    journal: JournalEntry[],
    lease?: Lease,
  ): Promise<void>;
  journal(entry: JournalEntry): Promise<void>;
}

export interface SwarmWriteBatchOptions {
  /** Items per statement at the most (a larger backlog is written by the following ones). */
  maxItems?: number;
  /**
   * Statements in flight at once (each on its own connection). While one commits, the next is
   * built and sent with the items of the other swarms; a swarm's own items wait for its previous
   * statement, so its events still become visible in order.
   */
  maxInFlight?: number;
}

export function createSwarmWriteBatch(
  query: RawQuery,
  options: SwarmWriteBatchOptions = {},
): SwarmWriteBatch {
  const maxItems = options.maxItems ?? 256;
  const maxInFlight = options.maxInFlight ?? 2;
  let waiting: Item[] = [];
  let inFlight = 0;
  let scheduled = false;
  /** Swarms with a statement in flight. */
  const busy = new Set<string>();

  async function write(items: Item[]): Promise<void> {
    // Later rows of one task or swarm carry its newer state: one row each (a statement may not
    // update a row twice), with the started/ended flags of all of them.
    const tasks = new Map<string, TaskRow>();
    const iterations = new Map<string, IterationRow>();
    const swarms = new Map<string, SwarmRow>();
    const events: EventRow[] = [];
    const journal = new Map<string, JournalRow>();
    for (const it of items) {
      events.push(...it.events);
      for (const j of it.journal) journal.set(j.k, j);
      for (const t of it.tasks) {
        const key = `${t.s}/${t.id}`;
        const prev = tasks.get(key);
        tasks.set(
          key,
          prev
            ? {
                ...t,
                w: t.w ?? prev.w,
                started: t.started || prev.started,
                ended: t.ended || prev.ended,
              }
            : t,
        );
      }
      for (const r of it.iterations) iterations.set(`${r.s}/${r.n}`, r);
      if (it.swarm) {
        // One row per swarm carries the fence: the lease of its fenced appends. Two leases of one
        // swarm in a statement cannot both be current: the row then fails, and the appends are
        // written one by one to find the stale one.
        const prev = swarms.get(it.swarm.id);
        let fence = prev?.e === undefined ? {} : { e: prev.e, o: prev.o };
        if (it.lease) {
          const { epoch, owner } = it.lease;
          const agrees = fence.e === undefined || (fence.e === epoch && fence.o === owner);
          fence = agrees ? { e: epoch, o: owner } : { e: -1, o: '' };
        }
        swarms.set(it.swarm.id, { ...it.swarm, ...fence });
      }
    }
    // Journal rows in key order: a row may be in two statements at once (a journal put and the
    // append that carries it), and inserts of one order cannot deadlock each other.
    const journalRows = [...journal.values()].sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : 0));
    const params = [
      JSON.stringify(events),
      JSON.stringify([...tasks.values()]),
      JSON.stringify([...iterations.values()]),
      JSON.stringify([...swarms.values()]),
      JSON.stringify(journalRows),
    ];
    // Model output may hold what PostgreSQL refuses (NUL, unpaired surrogates): rare, so looked
    // for in the serialised text first and only then escaped row by row.
    if (params.some(mayNeedEscaping)) {
      params[0] = JSON.stringify(events.map((e) => ({ ...e, d: escapeObject(e.d) })));
      params[1] = JSON.stringify(
        [...tasks.values()].map((t) => ({
          ...t,
          out: t.out && escapeObject(t.out),
          err: storableText(t.err),
        })),
      );
      params[2] = JSON.stringify([...iterations.values()].map((r) => storableJson(r)));
      params[3] = JSON.stringify(
        [...swarms.values()].map((r) => ({ ...r, rs: storableText(r.rs) })),
      );
      params[4] = JSON.stringify(
        journalRows.map((j) => ({
          ...storableJson({ ...j, resp: {} }),
          resp: escapeObject(j.resp),
        })),
      );
    }
    await query('cfn_swarm_write_batch', BATCH_SQL, params);
  }

  /** What a failed write means for one item of it. */
  function itemError(it: Item, err: unknown): unknown {
    if (isUniqueViolation(err) && it.conflict) return it.conflict();
    if (isFenced(err)) return new FencedAppendError(it.swarmId);
    if (isDataException(err))
      return new UnstorableError(`the database refused a value: ${(err as Error).message}`, {
        cause: err,
      });
    return err;
  }

  /** The next statement's items: the oldest waiting ones of swarms with nothing in flight. */
  function take(): Item[] {
    const batch: Item[] = [];
    const rest: Item[] = [];
    for (const it of waiting) {
      // A journal row needs no order (it is a fact, written once): it never waits for its swarm's
      // statement, nor holds back the swarm's next append (which carries it too when it matters).
      const ordered = it.basis !== undefined;
      if (batch.length < maxItems && (!ordered || !busy.has(it.swarmId))) batch.push(it);
      else rest.push(it);
    }
    waiting = rest;
    return batch;
  }

  /**
   * Folds an append failed on: the appends made on the same fold after it were built on it (their
   * sequence numbers follow its), and written without it they would leave a hole in the log. They
   * are refused — queued, in the same statement, or submitted later (a step that was deciding
   * when it failed) — until the caller folds the log again into a new state.
   */
  const failedBases = new WeakSet<SwarmState>();
  const builtOnFailure = (it: Item) => it.basis !== undefined && failedBases.has(it.basis);

  function rejectFollowers(): void {
    waiting = waiting.filter((it) => {
      if (!builtOnFailure(it)) return true;
      it.reject(it.conflict!());
      return false;
    });
  }

  async function writeBatch(batch: Item[]): Promise<void> {
    let failures = false;
    const fail = (it: Item, err: unknown) => {
      if (it.basis) failedBases.add(it.basis);
      failures = true;
      it.reject(itemError(it, err));
    };
    try {
      await write(batch);
      for (const it of batch) it.resolve();
    } catch (err) {
      if (batch.length > 1 && isItemError(err)) {
        // One item lost a race for its sequence numbers, was fenced or holds a value the database
        // refuses: write them one by one to find it.
        for (const it of batch) {
          if (builtOnFailure(it)) {
            it.reject(it.conflict!());
            continue;
          }
          try {
            await write([it]);
            it.resolve();
          } catch (e) {
            fail(it, e);
          }
        }
      } else {
        for (const it of batch) fail(it, err);
      }
    }
    if (failures) rejectFollowers();
  }

  function pump(): void {
    scheduled = false;
    while (inFlight < maxInFlight && waiting.length) {
      const batch = take();
      if (!batch.length) return; // every waiting swarm has a statement in flight
      inFlight++;
      const swarms = batch.filter((it) => it.basis !== undefined).map((it) => it.swarmId);
      for (const id of swarms) busy.add(id);
      void writeBatch(batch).finally(() => {
        inFlight--;
        for (const id of swarms) busy.delete(id);
        pump();
      });
    }
  }

  function submit(item: Omit<Item, 'resolve' | 'reject'>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      waiting.push({ ...item, resolve, reject });
      if (!scheduled && inFlight < maxInFlight) {
        scheduled = true;
        // Let the callbacks of this turn of the event loop join the statement.
        setImmediate(pump);
      }
    });
  }

  return {
    append(swarmId, expectedSeq, events, state, requestId, journal, lease) {
      if (failedBases.has(state))
        return Promise.reject(new ConcurrentAppendError(swarmId, expectedSeq));
      return submit({
        basis: state,
        swarmId,
        ...(lease ? { lease } : {}),
        ...appendRows(swarmId, expectedSeq, events, state, requestId),
        journal: journal.map(journalRow),
        conflict: () => new ConcurrentAppendError(swarmId, expectedSeq),
      });
    },
    journal(entry) {
      return submit({
        swarmId: entry.swarmId,
        events: [],
        tasks: [],
        iterations: [],
        swarm: null,
        journal: [journalRow(entry)],
      });
    },
  };
}
