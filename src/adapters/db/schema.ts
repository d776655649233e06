// Drizzle table definitions; the SQL migrations generated from this file (drizzle-kit) own the truth.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  primaryKey,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    role: text('role', { enum: ['viewer', 'operator', 'admin'] }).notNull(),
    prefix: text('prefix').notNull(),
    hash: text('hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    createdBy: text('created_by'),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('api_keys_hash_idx').on(t.hash)],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    action: text('action').notNull(),
    actorKeyId: uuid('actor_key_id'),
    actorName: text('actor_name').notNull(),
    target: text('target'),
    details: jsonb('details')
      .$type<Record<string, unknown>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    requestId: text('request_id'),
    ip: text('ip'),
  },
  (t) => [index('audit_log_at_idx').on(t.at), index('audit_log_action_idx').on(t.action, t.id)],
);

export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

// ---- Swarms (issue 3). The events table is the durable record; the other tables are
// projections kept in the same transaction for queries, listings and metrics.

export const swarms = pgTable(
  'swarms',
  {
    id: uuid('id').primaryKey(),
    objective: text('objective').notNull(),
    strategy: text('strategy').notNull(),
    mode: text('mode').notNull(),
    status: text('status').notNull(),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    iteration: integer('iteration').notNull().default(0),
    decision: text('decision'),
    reason: text('reason'),
    lastSeq: integer('last_seq').notNull().default(0),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull().default(0),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull().default(0),
    costUsd: doublePrecision('cost_usd').notNull().default(0),
    /** Budget reserved by calls in flight (settled when they finish). */
    reservedTokens: bigint('reserved_tokens', { mode: 'number' }).notNull().default(0),
    reservedUsd: doublePrecision('reserved_usd').notNull().default(0),
    budgetMaxTokens: bigint('budget_max_tokens', { mode: 'number' }),
    budgetMaxUsd: doublePrecision('budget_max_usd'),
    playbookEntryId: uuid('playbook_entry_id'),
    createdBy: text('created_by'),
    requestId: text('request_id'),
    /** `Idempotency-Key` of the submitting request: a retry by the same caller gets this swarm. */
    idempotencyKey: text('idempotency_key'),
    /** Hash of the submitted body under that key (the same key with another body is refused). */
    idempotencyHash: text('idempotency_hash'),
    /**
     * The lease of the process running the swarm (its only writer): appends carry the epoch and
     * owner they were made under and the store refuses any other. Renewed while it runs.
     */
    leaseEpoch: integer('lease_epoch').notNull().default(0),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
  },
  (t) => [
    index('swarms_status_idx').on(t.status, t.createdAt),
    index('swarms_created_idx').on(t.createdAt, t.id),
    uniqueIndex('swarms_idempotency_idx')
      .on(t.createdBy, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} is not null`),
  ],
);

export const events = pgTable(
  'events',
  {
    swarmId: uuid('swarm_id').notNull(),
    seq: integer('seq').notNull(),
    type: text('type').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    requestId: text('request_id'),
  },
  (t) => [
    primaryKey({ columns: [t.swarmId, t.seq] }),
    index('events_type_at_idx').on(t.type, t.at),
    // A task has at most one terminal event, whatever the interleaving of its writers.
    uniqueIndex('events_task_outcome_idx')
      .on(t.swarmId, sql`(${t.data}->>'taskId')`)
      .where(sql`${t.type} in ('task.succeeded', 'task.failed')`),
  ],
);

export const swarmIterations = pgTable(
  'swarm_iterations',
  {
    swarmId: uuid('swarm_id').notNull(),
    iteration: integer('iteration').notNull(),
    feedback: jsonb('feedback').$type<string[]>().notNull(),
    gateScore: doublePrecision('gate_score'),
    gatePassed: boolean('gate_passed'),
    consensusScore: doublePrecision('consensus_score'),
    consensusPassed: boolean('consensus_passed'),
    decision: text('decision'),
    decisionBy: text('decision_by'),
    /** Workspace fingerprint at the start of the iteration (the deliverable check compares to it). */
    snapshot: jsonb('snapshot').$type<Record<string, string>>(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.swarmId, t.iteration] })],
);

export const agentTasks = pgTable(
  'agent_tasks',
  {
    swarmId: uuid('swarm_id').notNull(),
    taskId: text('task_id').notNull(),
    iteration: integer('iteration').notNull(),
    phase: text('phase').notNull(),
    slot: integer('slot').notNull(),
    attempt: integer('attempt').notNull(),
    agent: text('agent'),
    status: text('status').notNull(),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    output: jsonb('output').$type<Record<string, unknown>>(),
    error: text('error'),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull().default(0),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull().default(0),
    costUsd: doublePrecision('cost_usd').notNull().default(0),
    worker: text('worker'),
    scheduledAt: timestamp('scheduled_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    endedAt: timestamp('ended_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.swarmId, t.taskId] }),
    index('agent_tasks_status_idx').on(t.status),
    index('agent_tasks_ended_idx').on(t.endedAt),
  ],
);

/** The effect journal: one row per completed LLM call or tool run, never repeated on replay. */
export const agentCalls = pgTable(
  'agent_calls',
  {
    key: text('key').primaryKey(),
    swarmId: uuid('swarm_id').notNull(),
    taskId: text('task_id').notNull(),
    kind: text('kind').notNull(),
    requestHash: text('request_hash').notNull(),
    response: jsonb('response').$type<Record<string, unknown>>().notNull(),
    provider: text('provider'),
    model: text('model'),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull().default(0),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull().default(0),
    costUsd: doublePrecision('cost_usd').notNull().default(0),
    durationMs: integer('duration_ms').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('agent_calls_swarm_idx').on(t.swarmId, t.taskId)],
);

export const playbookEntries = pgTable(
  'playbook_entries',
  {
    id: uuid('id').primaryKey(),
    swarmId: uuid('swarm_id').notNull(),
    objective: text('objective').notNull(),
    taskClass: text('task_class').notNull(),
    strategy: text('strategy').notNull(),
    mode: text('mode').notNull(),
    agents: jsonb('agents').$type<string[]>().notNull(),
    iterations: integer('iterations').notNull(),
    outcome: text('outcome').notNull(),
    gateScore: doublePrecision('gate_score'),
    consensusScore: doublePrecision('consensus_score'),
    costUsd: doublePrecision('cost_usd').notNull(),
    lessons: text('lessons').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('playbook_objective_fts_idx').using('gin', sql`to_tsvector('english', ${t.objective})`),
  ],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    swarmId: uuid('swarm_id').notNull(),
    url: text('url').notNull(),
    event: text('event').notNull(),
    attempt: integer('attempt').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('webhook_deliveries_swarm_idx').on(t.swarmId, t.id)],
);

// ---- Backups (issue 5): the catalog of every backup this deployment made. The manifests next to
// the backup files stay the truth (a restored or new database learns them back from the target).
export const backups = pgTable(
  'backups',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    status: text('status').notNull(),
    target: text('target').notNull(),
    key: text('key').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    sha256: text('sha256'),
    manifest: jsonb('manifest'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    durationMs: integer('duration_ms'),
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
  },
  (t) => [index('backups_type_created_idx').on(t.type, t.createdAt)],
);

// ---- The replica registry (issue 13): every process serving the API or running jobs heartbeats
// here, and acknowledges maintenance once it has stopped writing, so a restore waits for all of
// them. Runtime state, not data: dumps leave its rows out and a restore keeps the live ones.
export const serviceReplicas = pgTable('service_replicas', {
  id: text('id').primaryKey(),
  role: text('role').notNull(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  version: text('version').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
  /** Written with the database's clock, so replicas on other hosts compare without skew. */
  heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }).notNull().defaultNow(),
  /** The `since` of the maintenance this replica has acknowledged (it writes nothing now). */
  ackSince: text('ack_since'),
  ackAt: timestamp('ack_at', { withTimezone: true }),
  /** The replica's own health report at its last heartbeat: ok, or the failing checks. */
  health: jsonb('health').$type<Record<string, unknown>>(),
});

// ---- The access blocklist (issue 16): addresses an operator blocked by hand, until they expire.
// Automatic blocks (failed authentications) are runtime state in Redis or memory, not here.
export const accessBlocks = pgTable(
  'access_blocks',
  {
    address: text('address').primaryKey(),
    reason: text('reason').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    createdBy: text('created_by').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('access_blocks_expires_idx').on(t.expiresAt)],
);

export const schema = {
  apiKeys,
  auditLog,
  settings,
  swarms,
  events,
  swarmIterations,
  agentTasks,
  agentCalls,
  playbookEntries,
  webhookDeliveries,
  backups,
  serviceReplicas,
  accessBlocks,
};
