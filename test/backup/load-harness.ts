// What the restore-under-load tests share: a steady stream of swarm submissions (each one's start,
// end, status and id recorded), the fake LLM answering with spread-out latency, bounded waits on
// a condition, and the row sets of every table, so a restored database can be compared with its
// backup exactly (minus what a restore changes on purpose).
import path from 'node:path';
import { expect } from 'vitest';
import type { FakeLlm } from '../support/fake-llm.js';
import { agentOf, implementer, validator, writeAgents } from '../support/swarm-harness.js';

/** The statuses a swarm ends in, as an SQL list. */
export const TERMINAL = `'completed', 'aborted', 'exhausted', 'failed', 'cancelled'`;

export interface Submission {
  t0: number;
  t1: number;
  status: number;
  id?: string;
}

/** Submits a small swarm every `everyMs` until stopped; every answer is kept. */
export function startSubmissions(url: string, key: string, everyMs = 250) {
  const list: Submission[] = [];
  let stopped = false;
  let n = 0;
  const loop = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      try {
        const res = await fetch(`${url}/api/swarms`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            objective: `load ${n++}`,
            agents: ['impl-a'],
            validators: ['val-a'],
            mode: 'mvp',
          }),
        });
        const body = (await res.json().catch(() => ({}))) as { id?: string };
        list.push({ t0, t1: Date.now(), status: res.status, ...(body.id ? { id: body.id } : {}) });
      } catch {
        list.push({ t0, t1: Date.now(), status: 0 });
      }
      // Pacing of the load generator (a steady arrival rate), not a wait for anything.
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    list,
    accepted: () => list.filter((s) => s.status === 202),
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** The environment of the service under load (its agents written into `dir`). */
export function loadEnv(dir: string, llm: FakeLlm, adminKey: string): Record<string, string> {
  writeAgents(path.join(dir, 'agents'));
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CFN_DATA_DIR: path.join(dir, 'data'),
    CFN_AGENTS_DIR: path.join(dir, 'agents'),
    BACKUP_SCHEDULES: 'off',
    CFN_BOOTSTRAP_ADMIN_KEY: adminKey,
    CFN_MAX_CONCURRENT_AGENTS: '8',
    CFN_REPLICA_HEARTBEAT_MS: '250',
    CFN_REPLICA_STALE_MS: '5000',
    RATE_LIMIT_PER_MINUTE: '0',
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: llm.url,
  };
}

/** LLM answers that pass the mvp gates, after 150-900 ms. */
export function answerSlowly(llm: FakeLlm): void {
  llm.setResponder((req) => ({
    ...(agentOf(req).startsWith('impl') ? implementer(0.9) : validator(0.95)),
    delayMs: 150 + Math.floor(Math.random() * 750),
  }));
}

/** Polls `check` until it gives a value, at most `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export type RunSql = (text: string) => Promise<Array<Record<string, unknown>>>;

/**
 * What a restore changes on purpose, left out of the comparison: the catalog (learnt again from
 * the target), the replica registry (runtime state), the maintenance row, the restore's own audit
 * entry, and the swarms' leases (given up).
 */
const RULES: Record<string, { skip?: true; where?: string; drop?: string[] }> = {
  'public.backups': { skip: true },
  'public.service_replicas': { skip: true },
  'public.settings': { where: `key <> 'maintenance'` },
  'public.audit_log': { where: `action <> 'backup.restored'` },
  'public.swarms': { drop: ['lease_owner', 'lease_expires_at'] },
};

/** Every row of every table, as sorted JSON text. */
export async function rowSets(run: RunSql): Promise<Record<string, string[]>> {
  await run(`set timezone = 'UTC'`);
  const tables = await run(
    `select table_schema as s, table_name as t from information_schema.tables
      where table_schema in ('public', 'drizzle') and table_type = 'BASE TABLE' order by 1, 2`,
  );
  const out: Record<string, string[]> = {};
  for (const { s, t } of tables as Array<{ s: string; t: string }>) {
    const name = `${s}.${t}`;
    const rule = RULES[name] ?? {};
    if (rule.skip) continue;
    const drop = rule.drop?.length ? ` - array[${rule.drop.map((c) => `'${c}'`).join(',')}]` : '';
    const rows = await run(
      `select (to_jsonb(x)${drop})::text as r from "${s}"."${t}" x ${rule.where ? `where ${rule.where}` : ''} order by 1`,
    );
    out[name] = rows.map((r) => String(r.r));
  }
  return out;
}

/** What a backup (loaded into a scratch database) holds: its rows, its swarms, the unfinished. */
export async function backupFacts(run: RunSql) {
  const rows = await rowSets(run);
  const ids = async (where: string) =>
    (await run(`select id::text as id from public.swarms ${where}`)).map((r) => String(r.id));
  return {
    rows,
    swarms: new Set(await ids('')),
    unfinished: await ids(`where status not in (${TERMINAL})`),
    leased: (await ids('where lease_owner is not null')).length,
  };
}

/** Table by table: equal row sets, or which rows differ. */
export function expectSameRows(actual: Record<string, string[]>, backup: Record<string, string[]>) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(backup).sort());
  const differences: string[] = [];
  for (const [table, rows] of Object.entries(backup)) {
    const have = new Set(actual[table]);
    const want = new Set(rows);
    const missing = rows.filter((r) => !have.has(r));
    const extra = (actual[table] ?? []).filter((r) => !want.has(r));
    if (missing.length || extra.length)
      differences.push(
        `${table}: ${missing.length} row(s) of the backup missing, ${extra.length} not in it; e.g. ${(extra[0] ?? missing[0] ?? '').slice(0, 300)}`,
      );
  }
  expect(differences).toEqual([]);
}

/** Tables that hold rows of a swarm, by swarm id. */
export const SWARM_TABLES = [
  'swarms',
  'events',
  'swarm_iterations',
  'agent_tasks',
  'agent_calls',
  'playbook_entries',
  'webhook_deliveries',
];

/** The swarm ids found in each swarm table. */
export async function swarmIdsByTable(run: RunSql): Promise<Record<string, Set<string>>> {
  const out: Record<string, Set<string>> = {};
  for (const t of SWARM_TABLES) {
    const col = t === 'swarms' ? 'id' : 'swarm_id';
    const rows = await run(`select distinct ${col}::text as id from public.${t}`);
    out[t] = new Set(rows.map((r) => String(r.id)));
  }
  return out;
}

/**
 * The assertions both profiles share, over the whole run: every 202 before the restore is in the
 * backup or was reported discarded (exactly those), every submission while the replicas had
 * stopped got 503, the discarded swarms left no row anywhere, and everything after resuming
 * belongs to the backup's swarms or to submissions accepted after it.
 */
export function checkRun(o: {
  submissions: Submission[];
  backupSwarms: Set<string>;
  report: { acknowledgedAt: string; impact: { discardedSwarms: string[] } };
  offStartedAt: number;
  finalIds: Record<string, Set<string>>;
}) {
  const ackAt = Date.parse(o.report.acknowledgedAt);
  const before = o.submissions.filter((s) => s.status === 202 && s.t0 < ackAt).map((s) => s.id!);
  const expectedDiscard = before.filter((id) => !o.backupSwarms.has(id)).sort();
  expect(expectedDiscard.length).toBeGreaterThan(0);
  expect([...o.report.impact.discardedSwarms].sort()).toEqual(expectedDiscard);

  const during = o.submissions.filter((s) => s.t0 >= ackAt && s.t1 <= o.offStartedAt);
  expect(during.length).toBeGreaterThan(2);
  expect(during.filter((s) => s.status !== 503)).toEqual([]);

  // Accepted once the replicas had resumed (a request may have started just before that).
  const after = new Set(
    o.submissions.filter((s) => s.status === 202 && s.t0 >= ackAt).map((s) => s.id!),
  );
  expect(after.size).toBeGreaterThan(0);
  for (const [table, ids] of Object.entries(o.finalIds)) {
    const strays = [...ids].filter((id) => !o.backupSwarms.has(id) && !after.has(id));
    expect({ table, strays }).toEqual({ table, strays: [] });
  }
}
