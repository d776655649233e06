// SwarmStore on PostgreSQL (server or PGlite): events appended with optimistic concurrency (the
// (swarm_id, seq) key), projections updated in the same transaction.
import { and, eq, gt, inArray, notInArray, sql } from 'drizzle-orm';
import type { SwarmEvent, SwarmStatus } from '../../domain/cfn/spec.js';
import { TERMINAL_STATUSES } from '../../domain/cfn/spec.js';

import {
  ExistingSubmissionError,
  type JournalEntry,
  type StoredEvent,
  type SwarmRecord,
  type SwarmStore,
  type SwarmSummary,
  type TaskRecord,
} from '../../ports/swarm-store.js';
import { queryRows, rawQueryOf, type Db } from './database.js';
import { escapeObject, storableJson, storableText, unescapeObject } from './json-codec.js';
import { createSwarmWriteBatch } from './swarm-write-batch.js';
import {
  agentCalls,
  agentTasks,
  events,
  playbookEntries,
  swarmIterations,
  swarms,
  webhookDeliveries,
} from './schema.js';
import { decodeSwarmCursor, encodeSwarmCursor } from '../../domain/swarm-cursor.js';

type SwarmRow = typeof swarms.$inferSelect;
type EventRow = typeof events.$inferSelect;

function toRecord(r: SwarmRow): SwarmRecord {
  return {
    id: r.id,
    objective: r.objective,
    strategy: r.strategy,
    mode: r.mode,
    status: r.status as SwarmStatus,
    spec: unescapeObject(r.spec) as unknown as SwarmRecord['spec'],
    iteration: r.iteration,
    decision: r.decision,
    reason: r.reason,
    lastSeq: r.lastSeq,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    costUsd: r.costUsd,
    playbookEntryId: r.playbookEntryId,
    createdBy: r.createdBy,
    idempotencyKey: r.idempotencyKey,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    completedAt: r.completedAt,
  };
}

function toStored(r: EventRow): StoredEvent {
  return {
    swarmId: r.swarmId,
    seq: r.seq,
    type: r.type as SwarmEvent['type'],
    data: unescapeObject(r.data) as unknown as SwarmEvent,
    at: r.at,
  };
}

/** The columns of a listing (not the spec: a page would parse every swarm's spec for nothing). */
const SUMMARY_COLUMNS = `id, objective, strategy, mode, status, iteration, decision, reason, last_seq,
  input_tokens, output_tokens, cost_usd, playbook_entry_id, created_by, idempotency_key, created_at,
  updated_at, completed_at`;

// With an idempotency key already used by the same creator, the insert does nothing (it waits
// for a concurrent one with that key to commit first) and so no event is written either.
const CREATE_SQL = `
with sw as (
  insert into swarms (id, objective, strategy, mode, status, spec, last_seq, budget_max_tokens,
                      budget_max_usd, created_by, request_id, lease_epoch, lease_owner,
                      lease_expires_at, idempotency_key, idempotency_hash)
  values ($1, $2, $3, $4, 'queued', $5::jsonb, 1, $6, $7, $8, $9, case when $11::text is null then 0 else 1 end,
          $11::text, now() + $12::float8 * interval '1 millisecond', $13, $14)
  on conflict (created_by, idempotency_key) where idempotency_key is not null do nothing
  returning ${SUMMARY_COLUMNS}),
ev as (
  insert into events (swarm_id, seq, type, data, request_id)
  select id, 1, 'swarm.created', $10::jsonb, $9 from sw
  returning at)
select sw.*, ev.at as event_at from sw, ev`;

const RESERVE_CALL_SQL = `
with cur as (
  select id,
    least($4::bigint,
      case when budget_max_tokens is null then $4::bigint
           else budget_max_tokens - input_tokens - output_tokens - reserved_tokens - $2::bigint end,
      case when budget_max_usd is null then $4::bigint
           when cost_usd + reserved_usd + $3::float8 > budget_max_usd then -1
           when $6::float8 <= 0 then $4::bigint
           else floor((budget_max_usd - cost_usd - reserved_usd - $3::float8) / $6::float8)::bigint
      end) as g
  from swarms where id = $1 for update),
upd as (
  update swarms s set reserved_tokens = s.reserved_tokens + $2::bigint + cur.g,
                      reserved_usd = s.reserved_usd + $3::float8 + cur.g * $6::float8
  from cur where s.id = cur.id and cur.g >= $5::bigint
  returning cur.g)
select coalesce((select g from upd), 0)::int as granted`;

/** created_at as the cursor keeps it: UTC, to the microsecond (src/domain/swarm-cursor.ts). */
const CURSOR_AT = `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The listing's statement for one combination of filters, prepared once per connection: plain
 * SQL, because building it with Drizzle cost more CPU than PostgreSQL spent running it. One text
 * per combination (not `$n is null or ...`) keeps each plan on its index.
 */
function listStatement(filters: { status: boolean; strategy: boolean; cursor: boolean }) {
  const where: string[] = [];
  let n = 1; // $1 is the limit
  if (filters.status) where.push(`status = $${++n}`);
  if (filters.strategy) where.push(`strategy = $${++n}`);
  if (filters.cursor) {
    const at = ++n;
    const id = ++n;
    where.push(
      `(created_at < $${at}::timestamptz or (created_at = $${at}::timestamptz and id < $${id}))`,
    );
  }
  const mask =
    Number(filters.status) | (Number(filters.strategy) << 1) | (Number(filters.cursor) << 2);
  return {
    name: `cfn_swarm_list_${mask}`,
    text: `select ${SUMMARY_COLUMNS}, ${CURSOR_AT} as cursor_at
      from swarms${where.length ? ` where ${where.join(' and ')}` : ''}
      order by created_at desc, id desc limit $1`,
  };
}
const LIST_STATEMENTS = Array.from({ length: 8 }, (_, mask) =>
  listStatement({ status: (mask & 1) !== 0, strategy: (mask & 2) !== 0, cursor: (mask & 4) !== 0 }),
);

interface SummaryRow {
  id: string;
  objective: string;
  strategy: string;
  mode: string;
  status: string;
  iteration: number;
  decision: string | null;
  reason: string | null;
  last_seq: number;
  input_tokens: number | string | bigint;
  output_tokens: number | string | bigint;
  cost_usd: number;
  playbook_entry_id: string | null;
  created_by: string | null;
  idempotency_key: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  completed_at: Date | string | null;
}

/** node-postgres and PGlite both give Dates for timestamptz; int8 is a string or a bigint. */
function toSummary(r: SummaryRow): SwarmSummary {
  return {
    id: r.id,
    objective: r.objective,
    strategy: r.strategy,
    mode: r.mode,
    status: r.status as SwarmStatus,
    iteration: r.iteration,
    decision: r.decision,
    reason: r.reason,
    lastSeq: r.last_seq,
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    costUsd: r.cost_usd,
    playbookEntryId: r.playbook_entry_id,
    createdBy: r.created_by,
    idempotencyKey: r.idempotency_key,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    completedAt: r.completed_at === null ? null : new Date(r.completed_at),
  };
}

export function createPgSwarmStore(db: Db, readDb: Db = db): SwarmStore {
  const raw = rawQueryOf(db);
  const rawRead = rawQueryOf(readDb);
  const writes = createSwarmWriteBatch(raw);
  return {
    async create({ id, spec, createdBy, requestId, lease, idempotency }) {
      const event: SwarmEvent = { type: 'swarm.created', spec };
      // The swarm a creator made under a key; gone only if deleted meanwhile, then insert again.
      for (let attempt = 0; attempt < 2; attempt++) {
        // One statement (one round trip, one transaction): the swarm row and its first event.
        const { rows } = await raw('cfn_swarm_create', CREATE_SQL, [
          id,
          storableText(spec.objective),
          spec.strategy,
          spec.mode,
          JSON.stringify(escapeObject(spec)),
          spec.budget?.maxTokens ?? null,
          spec.budget?.maxCostUsd ?? null,
          createdBy,
          requestId,
          JSON.stringify(escapeObject(event)),
          lease?.owner ?? null,
          lease?.ttlMs ?? null,
          idempotency?.key ?? null,
          idempotency?.hash ?? null,
        ]);
        // The new row comes back with the event: the caller needs no read to answer with it.
        const row = rows[0] as (SummaryRow & { event_at: Date | string }) | undefined;
        if (row !== undefined)
          return {
            swarmId: id,
            seq: 1,
            type: event.type,
            data: event,
            at: new Date(row.event_at),
            record: { ...toSummary(row), spec },
          };
        if (!idempotency) break;
        const [existing] = await db
          .select()
          .from(swarms)
          .where(
            and(
              createdBy === null ? sql`false` : eq(swarms.createdBy, createdBy),
              eq(swarms.idempotencyKey, idempotency.key),
            ),
          )
          .limit(1);
        if (existing)
          throw new ExistingSubmissionError(toRecord(existing), existing.idempotencyHash);
      }
      throw new Error(`swarm ${id} was not created`);
    },

    async append(swarmId, expectedSeq, newEvents, state, options = {}) {
      if (!newEvents.length) return;
      // The rows are built now: `state` is the caller's and moves on once this resolves.
      await writes.append(
        swarmId,
        expectedSeq,
        newEvents,
        state,
        options.requestId ?? null,
        options.journal ?? [],
        options.lease,
      );
    },

    async claimLease(swarmId, owner, ttlMs, force) {
      const { rows } = await raw(
        'cfn_lease_claim',
        `update swarms set lease_epoch = lease_epoch + 1, lease_owner = $2,
                lease_expires_at = now() + $3::float8 * interval '1 millisecond'
         where id = $1 and ($4::boolean or lease_owner is null or lease_owner = $2
                            or lease_expires_at is null or lease_expires_at < now())
         returning lease_epoch`,
        [swarmId, owner, ttlMs, force],
      );
      const claimed = rows[0] as { lease_epoch: number } | undefined;
      if (claimed) return { lease: { epoch: Number(claimed.lease_epoch), owner } };
      const [held] = await db
        .select({ until: swarms.leaseExpiresAt })
        .from(swarms)
        .where(eq(swarms.id, swarmId));
      if (!held) return undefined;
      return { heldUntil: held.until ?? new Date() };
    },

    async renewLeases(owner, leases, ttlMs) {
      if (!leases.length) return [];
      const { rows } = await raw(
        'cfn_lease_renew',
        `update swarms w set lease_expires_at = now() + $3::float8 * interval '1 millisecond'
         from jsonb_to_recordset($2::jsonb) as x(s uuid, e int)
         where w.id = x.s and w.lease_epoch = x.e and w.lease_owner = $1
         returning w.id`,
        [owner, JSON.stringify(leases.map((l) => ({ s: l.swarmId, e: l.epoch }))), ttlMs],
      );
      return rows.map((r) => String((r as { id: string }).id));
    },

    async releaseLease(swarmId, lease) {
      await db
        .update(swarms)
        .set({ leaseOwner: null, leaseExpiresAt: null })
        .where(
          and(
            eq(swarms.id, swarmId),
            eq(swarms.leaseEpoch, lease.epoch),
            eq(swarms.leaseOwner, lease.owner),
          ),
        );
    },

    async events(swarmId, afterSeq = 0, limit = 10_000) {
      const rows = await db
        .select()
        .from(events)
        .where(and(eq(events.swarmId, swarmId), gt(events.seq, afterSeq)))
        .orderBy(events.seq)
        .limit(limit);
      return rows.map(toStored);
    },

    async get(id) {
      const [row] = await db.select().from(swarms).where(eq(swarms.id, id)).limit(1);
      return row ? toRecord(row) : undefined;
    },

    async list({ limit, cursor, status, strategy }) {
      const c = cursor ? decodeSwarmCursor(cursor) : undefined;
      const statement = LIST_STATEMENTS[(status ? 1 : 0) | (strategy ? 2 : 0) | (c ? 4 : 0)]!;
      const values: unknown[] = [limit + 1];
      if (status) values.push(status);
      if (strategy) values.push(strategy);
      if (c) values.push(c.at, c.id);
      const { rows } = await rawRead(statement.name, statement.text, values);
      const page = (rows as Array<SummaryRow & { cursor_at: string }>).slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map(toSummary),
        nextCursor:
          rows.length > limit && last
            ? encodeSwarmCursor({ at: last.cursor_at, id: last.id })
            : null,
      };
    },

    async tasks(swarmId) {
      const rows = await db
        .select()
        .from(agentTasks)
        .where(eq(agentTasks.swarmId, swarmId))
        .orderBy(agentTasks.iteration, agentTasks.scheduledAt, agentTasks.taskId);
      return rows.map((r): TaskRecord => ({
        taskId: r.taskId,
        iteration: r.iteration,
        phase: r.phase,
        slot: r.slot,
        attempt: r.attempt,
        agent: r.agent,
        status: r.status,
        output: r.output && unescapeObject(r.output),
        error: r.error,
        inputTokens: r.inputTokens,
        outputTokens: r.outputTokens,
        costUsd: r.costUsd,
        worker: r.worker,
        scheduledAt: r.scheduledAt,
        startedAt: r.startedAt,
        endedAt: r.endedAt,
      }));
    },

    async unfinished() {
      const rows = await db
        .select({ id: swarms.id })
        .from(swarms)
        .where(notInArray(swarms.status, [...TERMINAL_STATUSES]))
        .orderBy(swarms.createdAt);
      return rows.map((r) => r.id);
    },

    async reserveCall(swarmId, call) {
      // The row is locked while the grant is computed from it, so concurrent calls of one swarm
      // never reserve more than its budget between them.
      const { rows } = await raw('cfn_reserve_call', RESERVE_CALL_SQL, [
        swarmId,
        Math.ceil(call.inputTokens),
        call.inputUsd,
        Math.floor(call.maxOutputTokens),
        Math.ceil(call.minOutputTokens),
        call.usdPerOutputToken,
      ]);
      return Number((rows[0] as { granted: number | string } | undefined)?.granted ?? 0);
    },

    async releaseBudget(swarmId, tokens, usd) {
      await db
        .update(swarms)
        .set({
          reservedTokens: sql`greatest(0, ${swarms.reservedTokens} - ${tokens})`,
          reservedUsd: sql`greatest(0, ${swarms.reservedUsd} - ${usd})`,
        })
        .where(eq(swarms.id, swarmId));
    },

    async holdBudget(swarmId, tokens, usd) {
      await db
        .update(swarms)
        .set({
          reservedTokens: sql`${swarms.reservedTokens} + ${tokens}`,
          reservedUsd: sql`${swarms.reservedUsd} + ${usd}`,
        })
        .where(eq(swarms.id, swarmId));
    },

    async clearReservations(swarmIds) {
      if (!swarmIds.length) return;
      await db
        .update(swarms)
        .set({ reservedTokens: 0, reservedUsd: 0 })
        .where(inArray(swarms.id, swarmIds));
    },

    async pendingWebhooks(maxAttempts) {
      const rows = await queryRows<{ id: string }>(
        db,
        sql`select s.id from swarms s
            where s.completed_at is not null and s.spec->>'webhookUrl' is not null
              and not exists (select 1 from webhook_deliveries d
                              where d.swarm_id = s.id and (d.error is null or d.attempt >= ${maxAttempts}))
            order by s.completed_at`,
      );
      return rows.map((r) => r.id);
    },

    async journalGet(key) {
      const [r] = await db.select().from(agentCalls).where(eq(agentCalls.key, key)).limit(1);
      if (!r) return undefined;
      return {
        key: r.key,
        swarmId: r.swarmId,
        taskId: r.taskId,
        kind: r.kind as JournalEntry['kind'],
        requestHash: r.requestHash,
        response: unescapeObject(r.response),
        provider: r.provider,
        model: r.model,
        inputTokens: r.inputTokens,
        outputTokens: r.outputTokens,
        costUsd: r.costUsd,
        durationMs: r.durationMs,
      };
    },

    journalPut: (e) => writes.journal(e),

    async saveSnapshot(swarmId, iteration, files) {
      await db
        .insert(swarmIterations)
        .values({ swarmId, iteration, feedback: [], snapshot: storableJson(files) })
        .onConflictDoUpdate({
          target: [swarmIterations.swarmId, swarmIterations.iteration],
          set: { snapshot: storableJson(files) },
        });
    },

    async loadSnapshot(swarmId, iteration) {
      const [r] = await db
        .select({ snapshot: swarmIterations.snapshot })
        .from(swarmIterations)
        .where(and(eq(swarmIterations.swarmId, swarmId), eq(swarmIterations.iteration, iteration)));
      return r?.snapshot ?? undefined;
    },

    async addPlaybookEntry(entry) {
      await db
        .insert(playbookEntries)
        .values({
          ...entry,
          objective: storableText(entry.objective),
          lessons: storableText(entry.lessons),
        })
        .onConflictDoNothing();
    },

    async searchPlaybook(objective, limit) {
      // Entries with every word of the objective (websearch_to_tsquery ANDs them) come first; the
      // rest of the limit goes to entries sharing any word, for partial overlap. One query.
      const words =
        objective
          .toLowerCase()
          .match(/[a-z0-9]{3,}/g)
          ?.slice(0, 30) ?? [];
      // Both conditions are on the indexed expression (playbook_objective_fts_idx).
      const rows = await queryRows<Record<string, unknown>>(
        readDb,
        sql`select e.*, to_tsvector('english', e.objective) @@ qa as all_words,
                   case when to_tsvector('english', e.objective) @@ qa
                        then ts_rank(to_tsvector('english', e.objective), qa)
                        else ts_rank(to_tsvector('english', e.objective), qo) end as rank
            from playbook_entries e,
                 websearch_to_tsquery('english', ${storableText(objective)}) qa,
                 to_tsquery('english', ${words.join(' | ')}) qo
            where to_tsvector('english', e.objective) @@ qa
               or to_tsvector('english', e.objective) @@ qo
            order by all_words desc, rank desc, e.created_at desc limit ${limit}`,
      );
      return rows.map((r) => ({
        id: String(r.id),
        swarmId: String(r.swarm_id),
        objective: String(r.objective),
        taskClass: String(r.task_class),
        strategy: String(r.strategy),
        mode: String(r.mode),
        agents: r.agents as string[],
        iterations: Number(r.iterations),
        outcome: String(r.outcome),
        gateScore: r.gate_score === null ? null : Number(r.gate_score),
        consensusScore: r.consensus_score === null ? null : Number(r.consensus_score),
        costUsd: Number(r.cost_usd),
        lessons: String(r.lessons),
        createdAt: new Date(String(r.created_at)),
        rank: Number(r.rank),
      }));
    },

    async countRunningTasks() {
      const [r] = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(agentTasks)
        .where(eq(agentTasks.status, 'running'));
      return Number(r?.n ?? 0);
    },

    async taskOutcomesSince(since) {
      const rows = await db
        .select({ status: agentTasks.status, n: sql<number>`count(*)::int` })
        .from(agentTasks)
        .where(
          and(inArray(agentTasks.status, ['succeeded', 'failed']), gt(agentTasks.endedAt, since)),
        )
        .groupBy(agentTasks.status);
      const get = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
      return { succeeded: get('succeeded'), failed: get('failed') };
    },

    async recordWebhookDelivery(d) {
      await db.insert(webhookDeliveries).values({ ...d, error: storableText(d.error) });
    },

    async workspacesInUse() {
      const rows = await db
        .select({ id: swarms.id, workspace: sql<string>`${swarms.spec}->>'workspace'` })
        .from(swarms)
        .where(
          and(
            notInArray(swarms.status, [...TERMINAL_STATUSES]),
            sql`${swarms.spec}->>'workspace' is not null`,
          ),
        );
      return rows.map((r) => ({ swarmId: r.id, workspace: r.workspace }));
    },
  };
}
