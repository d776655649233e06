// The SwarmStore contract, run on PGlite and PostgreSQL: the event log's optimistic concurrency,
// projections kept with it, and the effect journal — also when appends share one write. The lease
// tests are in swarm-store-leases.contract.ts.
import { randomInt, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SwarmEvent } from '../../../src/domain/cfn/spec.js';
import { initialState } from '../../../src/domain/cfn/state.js';
import {
  ConcurrentAppendError,
  ExistingSubmissionError,
  type JournalEntry,
  type SwarmStore,
} from '../../../src/ports/swarm-store.js';
import { append, implTask, newSwarm, spec } from './swarm-store-kit.js';
import { leaseContract } from './swarm-store-leases.contract.js';

/** What PostgreSQL refuses in text and jsonb, and what a careless escape would confuse. */
const HOSTILE = 'a\u0000b \u0000 \uD800 \uDFFF x\uD83D\uDE00y \uFFFF0 \\u0000 \uFFFF';

const journalEntry = (swarmId: string, taskId: string, text: string): JournalEntry => ({
  key: `${swarmId}/${taskId}/llm/0`,
  swarmId,
  taskId,
  kind: 'llm',
  requestHash: 'h',
  response: { text },
  provider: 'anthropic',
  model: 'm',
  inputTokens: 10,
  outputTokens: 5,
  costUsd: 0.001,
  durationMs: 3,
});

/** Reads the stored `spec` column of a swarm's task rows, keyed by task id (not in the port). */
export type TaskSpecs = (swarmId: string) => Promise<Record<string, unknown>>;

export function swarmStoreContract(
  label: string,
  open: () => Promise<SwarmStore>,
  taskSpecs: TaskSpecs,
): void {
  describe(`swarm store contract: ${label}`, () => {
    let store: SwarmStore;
    beforeAll(async () => {
      store = await open();
    });

    it('keeps the log, the task, iteration and swarm projections, and the journal of one append', async () => {
      const { id, state } = await newSwarm(store);
      const t = implTask(1);
      await append(store, id, state, [
        { type: 'iteration.started', iteration: 1, feedback: [] },
        { type: 'task.scheduled', ...t },
        { type: 'task.started', taskId: t.taskId, worker: 'w1' },
      ]);
      await append(
        store,
        id,
        state,
        [
          {
            type: 'task.succeeded',
            taskId: t.taskId,
            output: { confidence: 0.9, summary: 'done' },
            tokens: { input: 10, output: 5 },
            costUsd: 0.001,
          },
          { type: 'gate.evaluated', iteration: 1, score: 0.9, threshold: 0.7, passed: true },
        ],
        [journalEntry(id, t.taskId, 'the answer')],
      );

      const log = await store.events(id);
      expect(log.map((e) => [e.seq, e.type])).toEqual([
        [1, 'swarm.created'],
        [2, 'iteration.started'],
        [3, 'task.scheduled'],
        [4, 'task.started'],
        [5, 'task.succeeded'],
        [6, 'gate.evaluated'],
      ]);
      const rec = await store.get(id);
      expect(rec).toMatchObject({
        status: 'running',
        iteration: 1,
        lastSeq: 6,
        inputTokens: 10,
        outputTokens: 5,
      });
      expect(rec!.costUsd).toBeCloseTo(0.001);
      const [task] = await store.tasks(id);
      expect(task).toMatchObject({
        taskId: t.taskId,
        status: 'succeeded',
        agent: 'coder',
        worker: 'w1',
        output: { confidence: 0.9, summary: 'done' },
        inputTokens: 10,
      });
      expect(task!.startedAt).toBeInstanceOf(Date);
      expect(task!.endedAt).toBeInstanceOf(Date);
      expect(await store.journalGet(`${id}/${t.taskId}/llm/0`)).toMatchObject({
        response: { text: 'the answer' },
        inputTokens: 10,
      });
    });

    it('writes appends of many swarms made at once, each in its own order', async () => {
      const swarms = await Promise.all(
        Array.from({ length: 12 }, (_, i) => newSwarm(store, `many ${i}`)),
      );
      for (let round = 1; round <= 3; round++) {
        await Promise.all(
          swarms.map(({ id, state }) =>
            append(store, id, state, [
              { type: 'iteration.started', iteration: round, feedback: [`round ${round}`] },
              { type: 'task.scheduled', ...implTask(round) },
            ]),
          ),
        );
      }
      for (const { id } of swarms) {
        const log = await store.events(id);
        expect(log.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect((await store.get(id))!.iteration).toBe(3);
        expect((await store.tasks(id)).map((t) => t.iteration)).toEqual([1, 2, 3]);
      }
    });

    it("writes a swarm's appends in order while another statement is in flight", async () => {
      for (let round = 0; round < 5; round++) {
        const [a, b, c] = await Promise.all([newSwarm(store), newSwarm(store), newSwarm(store)]);
        const pending = [
          append(store, a.id, a.state, [{ type: 'iteration.started', iteration: 1, feedback: [] }]),
          append(store, b.id, b.state, [{ type: 'iteration.started', iteration: 1, feedback: [] }]),
        ];
        // The first statement is on its way: these arrive while it is in flight.
        await new Promise((resolve) => setImmediate(resolve));
        for (const x of [a, b])
          pending.push(append(store, x.id, x.state, [{ type: 'task.scheduled', ...implTask(1) }]));
        pending.push(
          append(store, c.id, c.state, [{ type: 'iteration.started', iteration: 1, feedback: [] }]),
        );
        pending.push(
          append(store, a.id, a.state, [
            { type: 'task.started', taskId: implTask(1).taskId, worker: 'w' },
          ]),
        );
        await Promise.all(pending);
        expect((await store.events(a.id)).map((e) => e.type)).toEqual([
          'swarm.created',
          'iteration.started',
          'task.scheduled',
          'task.started',
        ]);
        expect((await store.get(a.id))!.lastSeq).toBe(4);
        expect((await store.get(b.id))!.lastSeq).toBe(3);
        expect((await store.get(c.id))!.lastSeq).toBe(2);
        expect((await store.tasks(a.id))[0]!.status).toBe('running');
      }
    });

    it('refuses an append that lost the race for its place and those built on it, and keeps the others', async () => {
      const a = await newSwarm(store, 'race a');
      const b = await newSwarm(store, 'race b');
      await append(store, a.id, a.state, [
        { type: 'iteration.started', iteration: 1, feedback: [] },
      ]);
      // A stale writer of swarm a (still at seq 1) appends twice without waiting, and a healthy
      // append of b comes between, all in the same turn. Written without the first, the third
      // would leave a hole in a's log.
      const stale = initialState(a.state.spec);
      const results = await Promise.allSettled([
        append(store, a.id, stale, [{ type: 'swarm.cancel_requested', by: 'stale' }]),
        append(store, b.id, b.state, [{ type: 'iteration.started', iteration: 1, feedback: [] }]),
        append(store, a.id, stale, [{ type: 'iteration.started', iteration: 1, feedback: [] }]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
      for (const r of [results[0], results[2]])
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrentAppendError);
      expect((await store.events(a.id)).map((e) => [e.seq, e.type])).toEqual([
        [1, 'swarm.created'],
        [2, 'iteration.started'],
      ]);
      expect((await store.events(b.id)).map((e) => e.type)).toEqual([
        'swarm.created',
        'iteration.started',
      ]);
      expect((await store.get(a.id))!.lastSeq).toBe(2);
      // A step still deciding on the stale fold when the failure came appends after it: refused.
      await expect(
        append(store, a.id, stale, [{ type: 'task.scheduled', ...implTask(1) }]),
      ).rejects.toBeInstanceOf(ConcurrentAppendError);
      expect((await store.events(a.id)).map((e) => e.seq)).toEqual([1, 2]);
      // The log folded again is a new state, and appends on it are written.
      await append(store, a.id, a.state, [{ type: 'task.scheduled', ...implTask(1) }]);
      expect((await store.events(a.id)).map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it('finds playbook entries with every word first, then entries sharing any word', async () => {
      // Words of this run only, so other entries in the database never match.
      const tag = () =>
        Array.from({ length: 8 }, () => 'bcdfghjklmnpqrstvwxz'[randomInt(20)]).join('');
      const [alpha, beta, gamma, delta] = [tag(), tag(), tag(), tag()];
      const entry = (objective: string, createdAt: Date) => ({
        id: randomUUID(),
        swarmId: randomUUID(),
        objective,
        taskClass: 'cfn-loop/mvp',
        strategy: 'cfn-loop',
        mode: 'mvp',
        agents: ['coder'],
        iterations: 1,
        outcome: 'completed',
        gateScore: 0.9,
        consensusScore: 0.9,
        costUsd: 0,
        lessons: 'l',
        createdAt,
      });
      const both = entry(`${alpha} ${beta} service`, new Date('2026-01-01'));
      const onlyAlpha = entry(`${alpha} worker`, new Date('2026-01-03'));
      const onlyBeta = entry(`${beta} cli`, new Date('2026-01-02'));
      for (const e of [both, onlyAlpha, onlyBeta]) await store.addPlaybookEntry(e);

      const all = await store.searchPlaybook(`${alpha} ${beta}`, 5);
      expect(all[0]!.id).toBe(both.id);
      expect(all.map((e) => e.id).sort()).toEqual([both.id, onlyAlpha.id, onlyBeta.id].sort());
      expect(all[0]!.rank).toBeGreaterThan(0);
      expect((await store.searchPlaybook(`${alpha} ${beta}`, 1)).map((e) => e.id)).toEqual([
        both.id,
      ]);
      // No entry has both words: any-word matches, the newer first at equal rank.
      expect((await store.searchPlaybook(`${alpha} ${gamma}`, 5)).map((e) => e.id)).toEqual([
        onlyAlpha.id,
        both.id,
      ]);
      expect(await store.searchPlaybook(`${gamma} ${delta}`, 5)).toEqual([]);
      expect(await store.searchPlaybook('the and of', 5)).toEqual([]);
      expect(await store.searchPlaybook('', 5)).toEqual([]);
    });

    leaseContract(() => store);

    it('reserves a call within the budget: its input, and the output the budget still allows', async () => {
      const id = randomUUID();
      await store.create({
        id,
        spec: { ...spec('budgeted'), budget: { maxTokens: 1000, maxCostUsd: 0.01 } },
        createdBy: 'test',
        requestId: null,
      });
      const call = {
        inputTokens: 300,
        inputUsd: 0,
        maxOutputTokens: 4096,
        minOutputTokens: 100,
        usdPerOutputToken: 0,
      };
      expect(await store.reserveCall(id, call)).toBe(700); // the rest of the token budget
      expect(await store.reserveCall(id, { ...call, inputTokens: 1 })).toBe(0); // nothing left
      await store.releaseBudget(id, 1000, 0);
      // A concurrent pair shares what is left; neither overdraws it.
      const both = await Promise.all([store.reserveCall(id, call), store.reserveCall(id, call)]);
      expect(both.sort()).toEqual([0, 700]);
      await store.releaseBudget(id, 1000, 0);
      // The USD limit cuts the output too: $0.01 - $0.004 of input at $0.00001 per output token.
      expect(
        await store.reserveCall(id, {
          ...call,
          inputTokens: 10,
          inputUsd: 0.004,
          usdPerOutputToken: 0.00001,
        }),
      ).toBe(600);
      await store.releaseBudget(id, 610, 0.01);
      expect(await store.reserveCall(id, { ...call, inputUsd: 0.02 })).toBe(0); // its input alone is over
      // Not even the minimum fits: nothing is reserved.
      expect(await store.reserveCall(id, { ...call, inputTokens: 950 })).toBe(0);
      expect(await store.reserveCall(id, { ...call, inputTokens: 900 })).toBe(100);
    });

    it('keeps at most one terminal event per task', async () => {
      const { id, state } = await newSwarm(store);
      const t = implTask(1);
      await append(store, id, state, [
        { type: 'iteration.started', iteration: 1, feedback: [] },
        { type: 'task.scheduled', ...t },
      ]);
      const done = (ok: boolean): SwarmEvent =>
        ok
          ? {
              type: 'task.succeeded',
              taskId: t.taskId,
              output: { confidence: 1 },
              tokens: { input: 1, output: 1 },
              costUsd: 0,
            }
          : {
              type: 'task.failed',
              taskId: t.taskId,
              reason: 'x',
              retryable: false,
              tokens: { input: 1, output: 1 },
              costUsd: 0,
            };
      await append(store, id, state, [done(true)]);
      // A second writer with its own (equally current) fold: its place in the log is free, but
      // the task already has its outcome.
      for (const ok of [true, false]) {
        await expect(append(store, id, structuredClone(state), [done(ok)])).rejects.toBeInstanceOf(
          ConcurrentAppendError,
        );
      }
      expect(
        (await store.events(id)).map((e) => e.type).filter((x) => x.startsWith('task.s')),
      ).toEqual(['task.scheduled', 'task.succeeded']);
    });

    it('stores and returns any string: NUL, unpaired surrogates and the escape itself', async () => {
      const hostile = HOSTILE;
      const { id, state } = await newSwarm(store, `objective ${hostile}`);
      const t = { ...implTask(1), prompt: `prompt ${hostile}` };
      await append(store, id, state, [
        { type: 'iteration.started', iteration: 1, feedback: [`feedback ${hostile}`] },
        { type: 'task.scheduled', ...t },
      ]);
      await append(
        store,
        id,
        state,
        [
          {
            type: 'task.failed',
            taskId: t.taskId,
            reason: `reason ${hostile}`,
            retryable: false,
            tokens: { input: 1, output: 1 },
            costUsd: 0,
          },
        ],
        [
          {
            ...journalEntry(id, t.taskId, hostile),
            response: { text: hostile, [hostile]: hostile },
          },
        ],
      );
      const events = await store.events(id);
      expect(events[0]!.data).toEqual({
        type: 'swarm.created',
        spec: spec(`objective ${hostile}`),
      });
      expect(events[1]!.data).toEqual({
        type: 'iteration.started',
        iteration: 1,
        feedback: [`feedback ${hostile}`],
      });
      expect(events[2]!.data).toEqual({ type: 'task.scheduled', ...t });
      expect(events[3]!.data).toMatchObject({ reason: `reason ${hostile}` });
      expect((await store.journalGet(`${id}/${t.taskId}/llm/0`))!.response).toEqual({
        text: hostile,
        [hostile]: hostile,
      });
      expect((await store.get(id))!.spec.objective).toBe(`objective ${hostile}`);
      // Projections in text columns are storable look-alikes (the log above is the exact record).
      const [task] = await store.tasks(id);
      expect(task!.error).toMatch(/^reason a\uFFFDb/);
      // The same in an output object of a task row, through a statement shared with another swarm.
      const other = await newSwarm(store);
      const u = { ...implTask(1), taskId: 'i1-implement-9-a1' };
      await append(store, other.id, other.state, [
        { type: 'iteration.started', iteration: 1, feedback: [] },
        { type: 'task.scheduled', ...u },
      ]);
      await Promise.all([
        append(store, other.id, other.state, [
          {
            type: 'task.succeeded',
            taskId: u.taskId,
            output: { confidence: 1, text: hostile },
            tokens: { input: 1, output: 1 },
            costUsd: 0,
          },
        ]),
        newSwarm(store).then((n) =>
          append(store, n.id, n.state, [{ type: 'iteration.started', iteration: 1, feedback: [] }]),
        ),
      ]);
      expect((await store.tasks(other.id))[0]!.output).toEqual({ confidence: 1, text: hostile });
    });

    it('answers a create with the swarm as stored', async () => {
      const id = randomUUID();
      const created = await store.create({
        id,
        spec: spec(`created ${HOSTILE}`),
        createdBy: 'creator',
        requestId: 'req-c',
        lease: { owner: 'me', ttlMs: 60_000 },
        idempotency: { key: `c-${id}`, hash: 'h' },
      });
      expect(created).toMatchObject({ swarmId: id, seq: 1, type: 'swarm.created' });
      expect(created.record).toEqual(await store.get(id));
    });

    it('lists swarms newest first, without their spec, filtered and paged by the cursor', async () => {
      // A strategy of this test alone (the store does not check it), so other tests' swarms stay out.
      const strategy = `list-${randomUUID()}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = randomUUID();
        await store.create({
          id,
          spec: { ...spec(`listed ${i}`), strategy } as never,
          createdBy: 'lister',
          requestId: null,
          idempotency: { key: `k${i}`, hash: 'h' },
        });
        ids.push(id);
      }
      const pages: string[][] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await store.list({ limit: 2, strategy, ...(cursor ? { cursor } : {}) });
        pages.push(page.items.map((r) => r.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      const listed = pages.flat();
      expect(new Set(listed)).toEqual(new Set(ids));
      // Newest first (by the microsecond, which a Date's milliseconds cannot order further).
      const records = await Promise.all(listed.map(async (id) => (await store.get(id))!));
      for (let i = 1; i < records.length; i++) {
        const [a, b] = [records[i - 1]!, records[i]!];
        expect(a.createdAt.getTime()).toBeGreaterThanOrEqual(b.createdAt.getTime());
      }
      const [first] = (await store.list({ limit: 1, strategy })).items;
      const { spec: _spec, ...summary } = records[0]!;
      expect(first).toEqual(summary);
      expect(first).not.toHaveProperty('spec');
      expect(first).toMatchObject({ status: 'queued', createdBy: 'lister', inputTokens: 0 });
      expect(first!.createdAt).toBeInstanceOf(Date);
      expect((await store.list({ limit: 10, strategy, status: 'queued' })).items).toHaveLength(5);
      expect((await store.list({ limit: 10, strategy, status: 'completed' })).items).toEqual([]);
      const afterTwo = await store.list({ limit: 10, strategy, status: 'queued', cursor: cursor! });
      expect(afterTwo.items.map((r) => r.id)).toEqual(pages[2]);
    });

    it('lists the workspaces of unfinished swarms only', async () => {
      const withWorkspace = async (workspace: string) => {
        const id = randomUUID();
        const s = { ...spec('with a workspace'), workspace };
        await store.create({ id, spec: s, createdBy: 'test', requestId: null });
        return { id, state: initialState(s) };
      };
      const running = await withWorkspace('/ws/running');
      const done = await withWorkspace('/ws/done');
      const without = await newSwarm(store);
      await append(store, done.id, done.state, [
        { type: 'swarm.completed', status: 'completed', reason: 'done' },
      ]);
      const ours = new Set<string>([running.id, done.id, without.id]);
      expect((await store.workspacesInUse()).filter((w) => ours.has(w.swarmId))).toEqual([
        { swarmId: running.id, workspace: '/ws/running' },
      ]);
    });

    it('journals an effect on its own and keeps the first of two puts', async () => {
      const { id } = await newSwarm(store);
      await store.journalPut(journalEntry(id, 't1', 'first'));
      await store.journalPut(journalEntry(id, 't1', 'second'));
      expect((await store.journalGet(`${id}/t1/llm/0`))!.response).toEqual({ text: 'first' });
      expect(await store.journalGet(`${id}/t2/llm/0`)).toBeUndefined();
    });

    it("keeps a task row's spec, written by the append that scheduled it, through its later changes", async () => {
      const { id, state } = await newSwarm(store);
      const a = implTask(1);
      const b = { ...implTask(1), taskId: 'i1-implement-1-a1', slot: 1, prompt: 'Do the other' };
      await append(store, id, state, [
        { type: 'iteration.started', iteration: 1, feedback: [] },
        { type: 'task.scheduled', ...a },
      ]);
      await append(store, id, state, [{ type: 'task.started', taskId: a.taskId, worker: 'w1' }]);
      // b is scheduled and started by two appends made at once (they share one write).
      await Promise.all([
        append(store, id, state, [{ type: 'task.scheduled', ...b }]),
        append(store, id, state, [{ type: 'task.started', taskId: b.taskId, worker: 'w1' }]),
      ]);
      await append(store, id, state, [
        {
          type: 'task.succeeded',
          taskId: a.taskId,
          output: { confidence: 0.9, summary: 'done' },
          tokens: { input: 1, output: 1 },
          costUsd: 0,
        },
      ]);
      const specs = await taskSpecs(id);
      expect(specs[a.taskId]).toMatchObject({ taskId: a.taskId, agent: 'coder', prompt: 'Do it' });
      expect(specs[b.taskId]).toMatchObject({ slot: 1, prompt: 'Do the other' });
      expect((await store.tasks(id)).map((t) => [t.taskId, t.status])).toEqual([
        [a.taskId, 'succeeded'],
        [b.taskId, 'running'],
      ]);
    });

    it('creates one swarm per creator and idempotency key, even when raced, and names it', async () => {
      const key = { key: `k-${randomUUID()}`, hash: 'h1' };
      const ids = Array.from({ length: 6 }, () => randomUUID());
      const results = await Promise.allSettled(
        ids.map((id) =>
          store.create({
            id,
            spec: spec('idempotent'),
            createdBy: 'caller-a',
            requestId: null,
            idempotency: key,
          }),
        ),
      );
      const created = ids.filter((_, i) => results[i]!.status === 'fulfilled');
      expect(created).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') {
          expect(r.reason).toBeInstanceOf(ExistingSubmissionError);
          expect((r.reason as ExistingSubmissionError).existing.id).toBe(created[0]);
          expect((r.reason as ExistingSubmissionError).requestHash).toBe('h1');
        }
      for (const id of ids.filter((i) => i !== created[0])) {
        expect(await store.get(id)).toBeUndefined();
        expect(await store.events(id)).toEqual([]);
      }
      expect((await store.events(created[0]!)).map((e) => e.type)).toEqual(['swarm.created']);
      // The same key from another creator creates.
      const other = randomUUID();
      await store.create({
        id: other,
        spec: spec('idempotent'),
        createdBy: 'caller-b',
        requestId: null,
        idempotency: key,
      });
      expect((await store.get(other))?.createdBy).toBe('caller-b');
    });
  });
}
