// Realistic data for backup tests (swarms, events, tasks, calls, playbook, webhook deliveries, API
// keys through the real key service) and an independent content fingerprint per table.
import { sql } from 'drizzle-orm';
import { queryRows, type Database } from '../../src/adapters/db/database.js';
import type { Runtime } from '../../src/main/runtime.js';

/** Values that trip naive dump/restore code: quotes, newlines, backslashes, unicode, SQL text. */
const TRICKY = [
  "it's a 'quoted' objective",
  'line one\nline two\n\\.\nafter a COPY terminator',
  "INSERT INTO public.swarms VALUES ('fake');",
  'tab\tand backslash \\ and unicode: ünïcødé ✓ 🚀',
  '$$ dollar $tag$ quotes $$',
  '',
];

export async function seedRealisticData(runtime: Runtime, swarmCount = 40): Promise<void> {
  const db = runtime.database.db;
  for (let i = 0; i < 3; i++) {
    await runtime.apiKeys.create(
      { name: `key-${i}`, role: i === 0 ? 'admin' : 'operator' },
      { keyId: null, name: 'test' },
    );
  }
  await db.execute(sql`
    insert into swarms (id, objective, strategy, mode, status, spec, iteration, decision, reason,
                        last_seq, input_tokens, output_tokens, cost_usd, budget_max_usd, created_at, updated_at)
    select md5('swarm' || g)::uuid, 'objective number ' || g, 'cfn-loop', 'standard',
           case when g % 3 = 0 then 'completed' else 'running' end,
           jsonb_build_object('objective', 'objective ' || g, 'agents', jsonb_build_array('coder', 'reviewer'), 'n', g),
           g % 4, case when g % 3 = 0 then 'PROCEED' end, null, 10, g * 1000, g * 100, g * 0.0123,
           case when g % 2 = 0 then 1.5 end,
           timestamptz '2026-11-01 10:00:00+00' + g * interval '1 minute',
           timestamptz '2026-11-01 10:00:00+00' + g * interval '2 minute'
      from generate_series(1, ${swarmCount}) g`);
  for (const [i, text] of TRICKY.entries()) {
    await db.execute(sql`
      insert into swarms (id, objective, strategy, mode, status, spec, created_at, updated_at)
      values (md5(${'tricky' + i})::uuid, ${text}, 'parallel', 'mvp', 'failed',
              ${JSON.stringify({ objective: text, nested: { list: [1, 2.5, null, text] } })}::jsonb,
              now(), now())`);
  }
  await db.execute(sql`
    insert into events (swarm_id, seq, type, data, at, request_id)
    select md5('swarm' || s)::uuid, e, 'task.completed',
           jsonb_build_object('seq', e, 'summary', 'done ' || e || E'\nwith newline', 'score', e / 10.0),
           timestamptz '2026-11-01 10:00:00+00' + (s * 10 + e) * interval '1 second', 'req-' || s
      from generate_series(1, ${swarmCount}) s, generate_series(1, 10) e`);
  await db.execute(sql`
    insert into swarm_iterations (swarm_id, iteration, feedback, gate_score, gate_passed, consensus_score,
                                  consensus_passed, decision, decision_by, started_at)
    select md5('swarm' || s)::uuid, 1, jsonb_build_array('fix the tests', 'it''s fine'), 0.8, true, 0.91,
           true, 'PROCEED', 'policy', timestamptz '2026-11-02 00:00:00+00'
      from generate_series(1, ${swarmCount}) s`);
  await db.execute(sql`
    insert into agent_tasks (swarm_id, task_id, iteration, phase, slot, attempt, agent, status, spec, output,
                             input_tokens, output_tokens, cost_usd, scheduled_at)
    select md5('swarm' || s)::uuid, 'i1-implement-' || t, 1, 'implement', t, 1, 'coder', 'succeeded',
           jsonb_build_object('prompt', 'write code'), jsonb_build_object('confidence', 0.85),
           500, 50, 0.002, timestamptz '2026-11-02 00:00:00+00'
      from generate_series(1, ${swarmCount}) s, generate_series(0, 2) t`);
  await db.execute(sql`
    insert into agent_calls (key, swarm_id, task_id, kind, request_hash, response, provider, model,
                             input_tokens, output_tokens, cost_usd, duration_ms, created_at)
    select 'call-' || s || '-' || t, md5('swarm' || s)::uuid, 'i1-implement-' || t, 'llm', md5('req' || s || t),
           jsonb_build_object('text', 'answer {"confidence":0.85}'), 'anthropic', 'claude-sonnet-4-6',
           500, 50, 0.002, 1234, timestamptz '2026-11-02 00:00:00+00'
      from generate_series(1, ${swarmCount}) s, generate_series(0, 2) t`);
  await db.execute(sql`
    insert into playbook_entries (id, swarm_id, objective, task_class, strategy, mode, agents, iterations,
                                  outcome, gate_score, consensus_score, cost_usd, lessons, created_at)
    select md5('pb' || s)::uuid, md5('swarm' || s)::uuid, 'objective number ' || s, 'code', 'cfn-loop',
           'standard', jsonb_build_array('coder'), 1, 'completed', 0.8, 0.9, 0.01,
           'lesson ' || s || E':\n- keep it small', timestamptz '2026-11-03 00:00:00+00'
      from generate_series(1, ${swarmCount}) s`);
  await db.execute(sql`
    insert into webhook_deliveries (swarm_id, url, event, attempt, status_code, error, duration_ms, delivered_at)
    select md5('swarm' || s)::uuid, 'https://hooks.example/' || s, 'swarm.completed', 1,
           case when s % 5 = 0 then 500 else 200 end, case when s % 5 = 0 then 'HTTP 500' end, 12,
           timestamptz '2026-11-03 00:00:00+00'
      from generate_series(1, ${swarmCount}) s`);
  await db.execute(
    sql`insert into settings (key, value) values ('ui.theme', '{"dark": true, "name": "it''s"}'::jsonb)`,
  );
}

export interface Fingerprint {
  counts: Record<string, number>;
  checksums: Record<string, string>;
}

/**
 * Rows a restore adds on purpose, left out of the comparison: its own audit entry (the backup's
 * audit log plus the record of the restore).
 */
const ADDED_BY_RESTORE: Record<string, string> = {
  'public.audit_log': `where action <> 'backup.restored'`,
};

/** Row count and md5 of the ordered rows of every table (UTC rendering, so engines compare). */
export async function fingerprint(
  database: Database,
  // The catalog is learnt again from the target; the replica registry is runtime state.
  exclude: string[] = ['public.backups', 'public.service_replicas'],
): Promise<Fingerprint> {
  return database.db.transaction(async (tx) => {
    await tx.execute(sql`set local timezone = 'UTC'`);
    const tables = await queryRows<{ s: string; t: string }>(
      tx as never,
      sql`select table_schema as s, table_name as t from information_schema.tables
           where table_schema in ('public', 'drizzle') and table_type = 'BASE TABLE' order by 1, 2`,
    );
    const counts: Record<string, number> = {};
    const checksums: Record<string, string> = {};
    for (const { s, t } of tables) {
      const name = `${s}.${t}`;
      if (exclude.includes(name)) continue;
      const [r] = await queryRows<{ n: number; h: string }>(
        tx as never,
        sql.raw(`select count(*)::int as n,
                        md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h
                   from "${s}"."${t}" x ${ADDED_BY_RESTORE[name] ?? ''}`),
      );
      counts[name] = Number(r?.n);
      checksums[name] = r?.h ?? '';
    }
    return { counts, checksums };
  });
}

/** Changes the live data in ways a restore must undo. */
export async function scribble(database: Database): Promise<void> {
  await database.db.execute(sql`delete from events where seq > 5`);
  await database.db.execute(sql`update swarms set objective = 'changed' where status = 'running'`);
  await database.db.execute(sql`delete from api_keys`);
  await database.db.execute(
    sql`insert into playbook_entries (id, swarm_id, objective, task_class, strategy, mode, agents,
        iterations, outcome, cost_usd, lessons)
        values (gen_random_uuid(), gen_random_uuid(), 'new', 'c', 's', 'm', '[]', 1, 'x', 0, 'y')`,
  );
}
