// Idempotency-Key on POST /api/swarms: a retry with the same key and body returns the first
// swarm (202, Idempotent-Replayed: true) and runs nothing twice; the same key with another body
// is 422; keys are per caller and validated; identical requests at once make one swarm. On the
// embedded PGlite and on PostgreSQL.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../support/raw-http.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { passingAgents, startSwarmHarness, type SwarmHarness } from '../support/swarm-harness.js';

function suite(label: string, env: () => Promise<Record<string, string>>) {
  describe(`Idempotency-Key: ${label}`, () => {
    let h: SwarmHarness;
    let operator: string;

    beforeAll(async () => {
      h = await startSwarmHarness(await env());
      h.llm.setResponder(passingAgents);
      const res = await h.server.fetch('/api/keys', {
        method: 'POST',
        key: h.server.adminKey,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'second-caller', role: 'operator' }),
      });
      operator = ((await res.json()) as { key: string }).key;
    });
    afterAll(async () => {
      await h?.stop();
    });

    const submit = (body: object, key: string | undefined, caller = h.server.adminKey) =>
      h.server.fetch('/api/swarms', {
        method: 'POST',
        key: caller,
        headers: {
          'content-type': 'application/json',
          ...(key === undefined ? {} : { 'idempotency-key': key }),
        },
        body: JSON.stringify(body),
      });

    /** Calls the fake LLM received for an objective (a run calls implementer and validator). */
    const callsFor = (objective: string) =>
      h.llm.requests.filter((r) => JSON.stringify(r.messages).includes(objective)).length;

    const swarmsWith = async (objective: string) => {
      const res = await h.server.fetch('/api/swarms?limit=200', { key: h.server.adminKey });
      const page = (await res.json()) as { items: Array<{ id: string; objective: string }> };
      return page.items.filter((i) => i.objective === objective).map((i) => i.id);
    };

    it('answers a retry with the first swarm, marked replayed, and runs it once', async () => {
      const objective = `replay ${randomUUID()}`;
      const body = { objective, agents: ['impl-a'], validators: ['val-a'], mode: 'mvp' };
      const key = `retry-${randomUUID()}`;
      const first = await submit(body, key);
      expect(first.status).toBe(202);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const created = (await first.json()) as { id: string };
      await h.follow(created.id);

      // The same request with its keys in another order is the same request.
      const { mode, ...rest } = body;
      const again = await submit({ mode, ...rest }, key);
      expect(again.status).toBe(202);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.headers.get('location')).toBe(`/api/swarms/${created.id}`);
      const replay = (await again.json()) as { id: string; status: string; links: object };
      expect(replay.id).toBe(created.id);
      expect(replay.links).toMatchObject({ self: `/api/swarms/${created.id}` });

      expect(await swarmsWith(objective)).toEqual([created.id]);
      const events = await h.follow(created.id);
      expect(events.filter((e) => e.event === 'swarm.created')).toHaveLength(1);
      expect(callsFor(objective)).toBe(2); // one implementer and one validator call, once
    });

    it('refuses the same key with a different body with 422 IDEMPOTENCY_KEY_REUSED', async () => {
      const key = `reuse-${randomUUID()}`;
      const first = await submit({ objective: `first ${key}`, agents: ['impl-a'] }, key);
      const created = (await first.json()) as { id: string };
      const other = await submit({ objective: `other ${key}`, agents: ['impl-a'] }, key);
      expect(other.status).toBe(422);
      const e = ((await other.json()) as { error: { code: string; details: object } }).error;
      expect(e.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(e.details).toEqual({ swarmId: created.id });
      expect(await swarmsWith(`other ${key}`)).toEqual([]);
    });

    it('keeps keys per caller: another key holder gets a swarm of its own', async () => {
      const key = `shared-${randomUUID()}`;
      const body = { objective: `per caller ${key}`, agents: ['impl-a'], validators: ['val-a'] };
      const mine = (await (await submit(body, key)).json()) as { id: string };
      const res = await submit(body, key, operator);
      expect(res.status).toBe(202);
      expect(res.headers.get('idempotent-replayed')).toBeNull();
      expect(((await res.json()) as { id: string }).id).not.toBe(mine.id);
    });

    it('answers a retry of a submission holding a workspace with its swarm, not a conflict', async () => {
      const key = `ws-${randomUUID()}`;
      const body = {
        objective: `workspace ${key}`,
        agents: ['impl-a'],
        validators: ['val-a'],
        workspace: `ws-${randomUUID()}`,
        approval: 'human',
      };
      const first = await submit(body, key);
      expect(first.status, await first.clone().text()).toBe(202);
      const created = (await first.json()) as { id: string };
      const again = await submit(body, key);
      expect(again.status).toBe(202);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(((await again.json()) as { id: string }).id).toBe(created.id);
      // Without the key (or with another), the workspace is taken.
      const other = await submit(body, `other-${key}`);
      expect(other.status).toBe(409);
      await h.server.fetch(`/api/swarms/${created.id}/cancel`, {
        method: 'POST',
        key: h.server.adminKey,
      });
    });

    it('makes one swarm of identical requests sent at once', async () => {
      const objective = `race ${randomUUID()}`;
      const key = `race-${randomUUID()}`;
      const body = { objective, agents: ['impl-a'], validators: ['val-a'] };
      const answers = await Promise.all(Array.from({ length: 8 }, () => submit(body, key)));
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(202));
      const ids = await Promise.all(
        answers.map(async (a) => ((await a.json()) as { id: string }).id),
      );
      expect(new Set(ids).size).toBe(1);
      expect(answers.filter((a) => a.headers.get('idempotent-replayed') === null)).toHaveLength(1);
      await h.follow(ids[0]!);
      expect(await swarmsWith(objective)).toEqual([ids[0]]);
      expect(callsFor(objective)).toBe(2);
    });

    it('refuses a key that is empty, too long, not printable ASCII or sent twice', async () => {
      const port = Number(new URL(h.server.url).port);
      const body = JSON.stringify({ objective: 'bad key', agents: ['impl-a'] });
      for (const keys of [[''], ['k'.repeat(256)], ['caf\xe9'], ['tab\there'], ['a', 'b']]) {
        const res = await rawRequest(port, {
          method: 'POST',
          target: '/api/swarms',
          headers: [
            ['Host', 'x'],
            ['Connection', 'close'],
            ['Authorization', `Bearer ${h.server.adminKey}`],
            ['Content-Type', 'application/json'],
            ['Content-Length', String(body.length)],
            ...keys.map((k): [string, string] => ['Idempotency-Key', k]),
          ],
          body,
        });
        expect(res.status, JSON.stringify(keys)).toBe(400);
        const e = (JSON.parse(res.body) as { error: { code: string; details: unknown } }).error;
        expect(e.code).toBe('VALIDATION_FAILED');
        expect(e.details).toMatchObject({ issues: [{ path: 'Idempotency-Key' }] });
      }
      expect(await swarmsWith('bad key')).toEqual([]);
      // 255 printable characters, spaces inside included, are a key.
      const long = `${'k'.repeat(120)} ~!@#$%^&*()_+{}|:"<>? ${'z'.repeat(112)}`;
      expect(long).toHaveLength(255);
      expect((await submit({ objective: 'long key', agents: ['impl-a'] }, long)).status).toBe(202);
    });
  });
}

suite('PGlite', async () => ({}));

let pg: TestDatabase | undefined;
suite('PostgreSQL', async () => {
  pg = await createTestDatabase();
  return { DATABASE_URL: pg.url };
});
afterAll(async () => {
  await pg?.drop();
});
