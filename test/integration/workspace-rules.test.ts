// The workspace rules of POST /api/swarms: a path is resolved before it is checked, symbolic
// links and the roots themselves are refused, each unfinished swarm has a workspace of its own
// unless the operator shares it, and "network" needs the operator's permission.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSwarmHarness, type SwarmHarness } from '../support/swarm-harness.js';

let h: SwarmHarness;
let roots: string;
let elsewhere: string;

beforeAll(async () => {
  h = await startSwarmHarness({ CFN_SHARED_WORKSPACES: 'team' });
  roots = fs.realpathSync(h.dir);
  elsewhere = path.join(roots, 'elsewhere');
  fs.mkdirSync(path.join(roots, 'workspaces'), { recursive: true });
  fs.mkdirSync(elsewhere);
  // Agents never answer: swarms stay unfinished (they hold their workspace) until cancelled.
  h.llm.setResponder(() => ({ hang: true }));
});
afterAll(async () => {
  await h?.stop();
});

const body = (workspace: string, extra: Record<string, unknown> = {}) => ({
  objective: `work in ${workspace}`,
  agents: ['impl-a'],
  validators: [],
  workspace,
  ...extra,
});

async function cancel(id: string) {
  const res = await h.server.fetch(`/api/swarms/${id}/cancel`, {
    method: 'POST',
    key: h.server.adminKey,
  });
  expect(res.status).toBe(202);
  await h.follow(id);
}

const messageOf = (b: Record<string, unknown>) =>
  (b.error as { message: string; code: string }).message;

describe('resolving the workspace', () => {
  it('refuses a workspace that is a symbolic link, even to a directory inside a root', async () => {
    fs.mkdirSync(path.join(roots, 'workspaces', 'real'));
    fs.symlinkSync(elsewhere, path.join(roots, 'workspaces', 'out-link'));
    fs.symlinkSync(
      path.join(roots, 'workspaces', 'real'),
      path.join(roots, 'workspaces', 'in-link'),
    );
    for (const ws of ['out-link', 'in-link', 'out-link/sub', 'in-link/new/deeper']) {
      const s = await h.submit(body(ws));
      expect(s.status, ws).toBe(400);
      expect(messageOf(s.body)).toMatch(/symbolic link.*refused as workspaces/);
    }
    // Nothing was created through the link.
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it('refuses the root itself, however it is written', async () => {
    const root = path.join(roots, 'workspaces');
    for (const ws of ['.', './', root, `${root}/x/..`, 'a/..']) {
      const s = await h.submit(body(ws));
      expect(s.status, ws).toBe(400);
      expect(messageOf(s.body)).toMatch(/workspace root itself/);
    }
  });

  it('refuses a path outside the roots, and a file', async () => {
    expect((await h.submit(body('../elsewhere'))).status).toBe(400);
    fs.writeFileSync(path.join(roots, 'workspaces', 'a-file'), 'x');
    const s = await h.submit(body('a-file'));
    expect(s.status).toBe(400);
    expect(messageOf(s.body)).toMatch(/is not a directory/);
  });

  it('stores the real path of the workspace in the spec', async () => {
    const s = await h.submit(body('stored/here'));
    expect(s.status).toBe(202);
    const swarm = await h.get(s.id);
    expect((swarm.spec as { workspace: string }).workspace).toBe(
      path.join(roots, 'workspaces', 'stored', 'here'),
    );
    await cancel(s.id);
  });
});

describe('one workspace per unfinished swarm', () => {
  it('refuses the same, a nested and an enclosing directory with 409 naming the swarm, until it ends', async () => {
    const first = await h.submit(body('app/web'));
    expect(first.status).toBe(202);
    for (const ws of [
      'app/web',
      'app/web/src',
      'app',
      path.join(roots, 'workspaces', 'app', 'web'),
    ]) {
      const s = await h.submit(body(ws));
      expect(s.status, ws).toBe(409);
      expect(s.body.error).toMatchObject({
        code: 'CONFLICT',
        details: { swarmId: first.id, workspace: path.join(roots, 'workspaces', 'app', 'web') },
      });
      expect(messageOf(s.body)).toContain(first.id);
      expect(messageOf(s.body)).toMatch(/CFN_SHARED_WORKSPACES/);
    }
    // A sibling is free.
    const sibling = await h.submit(body('app/api'));
    expect(sibling.status).toBe(202);
    await cancel(sibling.id);
    await cancel(first.id);
    const again = await h.submit(body('app/web'));
    expect(again.status).toBe(202);
    await cancel(again.id);
  });

  it('lets several swarms use a directory the operator shares', async () => {
    const a = await h.submit(body('team'));
    const b = await h.submit(body('team'));
    const c = await h.submit(body('team/part'));
    expect([a.status, b.status, c.status]).toEqual([202, 202, 202]);
    for (const s of [a, b, c]) await cancel(s.id);
  });

  it('lets only one of two simultaneous submissions for a directory through', async () => {
    const both = await Promise.all([h.submit(body('raced')), h.submit(body('raced'))]);
    expect(both.map((s) => s.status).sort()).toEqual([202, 409]);
    await cancel(both.find((s) => s.status === 202)!.id);
  });
});

describe('network', () => {
  it('refuses "network": true unless CFN_SANDBOX_NETWORK allows it, naming the setting', async () => {
    const s = await h.submit(body('netted', { network: true }));
    expect(s.status).toBe(400);
    expect(messageOf(s.body)).toMatch(/CFN_SANDBOX_NETWORK/);
  });
});

describe('network allowed by the operator', () => {
  let allowed: SwarmHarness;
  beforeAll(async () => {
    allowed = await startSwarmHarness({ CFN_SANDBOX_NETWORK: 'allow' });
    allowed.llm.setResponder(() => ({ hang: true }));
  });
  afterAll(async () => {
    await allowed?.stop();
  });

  it('accepts "network": true for a workspace run and records it in the spec', async () => {
    const s = await allowed.submit(body('netted', { network: true }));
    expect(s.status).toBe(202);
    expect((await allowed.get(s.id)).spec).toMatchObject({ network: true });
    const res = await allowed.server.fetch(`/api/swarms/${s.id}/cancel`, {
      method: 'POST',
      key: allowed.server.adminKey,
    });
    expect(res.status).toBe(202);
    await allowed.follow(s.id);
    const without = await allowed.submit({ ...body('x', { network: true }), workspace: undefined });
    expect(without.status).toBe(400);
    expect(messageOf(without.body)).toMatch(/set "workspace"/);
  });
});
