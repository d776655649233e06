// The image as an operator runs it: built with podman from the Dockerfile on a Node 24 base
// (Debian 12 from debootstrap, standing in for node:24-bookworm-slim), on embedded defaults with
// its data on a volume. It runs as non-root, answers /health, passes its HEALTHCHECK, stops on
// SIGTERM within the shutdown timeout with exit code 0, and a swarm that was mid-way when it
// stopped finishes in a new container on the same volume without a completed call made again.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import { freePort } from '../support/free-port.js';
import {
  APP_IMAGE,
  buildImages,
  containerState,
  podman,
  removeQuietly,
  ROOT,
  run,
} from '../support/podman.js';
import {
  agentOf,
  expectResumedWithoutRepeats,
  implementer,
  parseSse,
  validator,
  writeAgents,
} from '../support/swarm-harness.js';

const KEY = 'cfn_image_test_bootstrap_key_0123456789';
const tag = `${process.pid}-${Date.now().toString(36)}`;
const volume = `cfn-image-test-${tag}`;
const names: string[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-image-'));
let llm: FakeLlm;
let port: number;
let url: string;
// Short drain and task timeouts: the stop is measured against them.
const DRAIN_MS = 500;
const TASK_TIMEOUT_MS = 3_000;

beforeAll(async () => {
  await buildImages('app');
  llm = await startFakeLlm();
  port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // The container's user (uid 10001) reads the agents through a read-only bind mount.
  writeAgents(path.join(dir, 'agents'));
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(path.join(dir, 'agents'), 0o755);
  await podman(['volume', 'create', volume]);
}, 30 * 60_000);

afterAll(async () => {
  await removeQuietly('container', names);
  await removeQuietly('volume', [volume]);
  await llm?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts a container of the image on the volume (host network: it reaches the fake LLM). */
async function startContainer(): Promise<string> {
  const name = `cfn-image-test-${tag}-${names.length + 1}`;
  names.push(name);
  await podman([
    'run',
    '--detach',
    '--name',
    name,
    '--network',
    'host',
    '--volume',
    `${volume}:/data`,
    '--volume',
    `${path.join(dir, 'agents')}:/agents:ro`,
    ...Object.entries({
      PORT: String(port),
      HOST: '127.0.0.1',
      CFN_AGENTS_DIR: '/agents',
      CFN_BOOTSTRAP_ADMIN_KEY: KEY,
      ANTHROPIC_API_KEY: 'test-key',
      ANTHROPIC_BASE_URL: llm.url,
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      SHUTDOWN_TIMEOUT_MS: String(TASK_TIMEOUT_MS),
    }).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    APP_IMAGE,
  ]);
  let last = '';
  await eventually(
    `the container ${name} answering /health 200`,
    async () => {
      const st = await containerState(name);
      if (st.Status !== 'running')
        throw new Error(`container ${name} is ${st.Status}:\n${await logs(name)}`);
      const res = await fetch(`${url}/health`).catch((err: Error) => err);
      last = res instanceof Error ? res.message : String(res.status);
      return !(res instanceof Error) && res.status === 200;
    },
    90_000,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message} (last: ${last})\n${await logs(name)}`);
  });
  return name;
}

const logs = async (name: string) => {
  const r = await run('podman', ['logs', '--tail', '40', name]);
  return r.stdout + r.stderr;
};

const api = (route: string, init: RequestInit = {}) =>
  fetch(`${url}${route}`, {
    ...init,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
  });

describe('the container image', () => {
  let first: string;
  let swarmId: string;

  it('carries its labels and health check, and is of a reported size', async () => {
    const [inspected] = JSON.parse(await podman(['image', 'inspect', APP_IMAGE])) as Array<{
      Size: number;
      Config: { User: string; Labels: Record<string, string>; Healthcheck?: { Test: string[] } };
      Healthcheck?: { Test: string[] };
    }>;
    const labels = inspected!.Config.Labels;
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(labels['org.opencontainers.image.version']).toBe(pkg.version);
    expect(labels['org.opencontainers.image.revision']).toMatch(/^([0-9a-f]{12}|unknown)$/);
    expect(inspected!.Config.User).toBe('10001:10001');
    const check = inspected!.Healthcheck ?? inspected!.Config.Healthcheck;
    expect(check?.Test.join(' ')).toContain('bin.js health');
    process.stderr.write(`image ${APP_IMAGE}: ${(inspected!.Size / 1e6).toFixed(0)} MB\n`);
  });

  it('runs as non-root on embedded defaults, answers /health and passes its HEALTHCHECK', async () => {
    first = await startContainer();
    expect(await podman(['exec', first, 'id', '-u'])).toBe('10001');
    // PID 1 (tini) and the service run as that user, not only what exec starts.
    const status = await podman(['exec', first, 'cat', '/proc/1/status']);
    expect(status).toMatch(/^Uid:\s+10001\s/m);
    const health = (await (await fetch(`${url}/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    // The image's own HEALTHCHECK command, run as podman runs it.
    const check = await run('podman', ['healthcheck', 'run', first]);
    expect(check.code, check.stderr).toBe(0);
    expect((await containerState(first)).Health?.Status).toBe('healthy');
    // Its data is on the volume.
    const mount = await podman(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume]);
    expect(fs.existsSync(path.join(mount, 'pglite'))).toBe(true);
  }, 120_000);

  it('stops on SIGTERM within the shutdown timeout, with a swarm mid-way, exit code 0', async () => {
    // Implementers answer; the validator's first call hangs: the stop finds a call in flight.
    let validatorCalls = 0;
    llm.setResponder((req) => {
      if (agentOf(req) === 'val-a')
        return ++validatorCalls === 1 ? { hang: true } : validator(0.95);
      return implementer(0.9);
    });
    const res = await api('/api/swarms', {
      method: 'POST',
      body: JSON.stringify({
        objective: 'survive a container restart',
        agents: ['impl-a', 'impl-b'],
        validators: ['val-a'],
      }),
    });
    expect(res.status).toBe(202);
    swarmId = ((await res.json()) as { id: string }).id;
    await llm.waitUntil((rs) => rs.some((r) => agentOf(r) === 'val-a'), 30_000);

    const started = Date.now();
    // podman stop sends the image's STOPSIGNAL (SIGTERM) and SIGKILLs after -t seconds.
    await podman(['stop', '--time', '60', first], 90_000);
    const took = Date.now() - started;
    const st = await containerState(first);
    expect(st.Status).toBe('exited');
    expect(st.ExitCode, await logs(first)).toBe(0);
    // Drain, then the request and task timeouts at most (with a margin for the container's end).
    expect(took).toBeLessThan(DRAIN_MS + 2 * TASK_TIMEOUT_MS + 10_000);
    expect(await logs(first)).toContain('shutdown');
  }, 120_000);

  it('finishes that swarm in a new container on the same volume, repeating no completed call', async () => {
    await removeQuietly('container', [first]);
    await startContainer();
    const events = await api(`/api/swarms/${swarmId}/events`);
    // Its event log ends completed, and the validator call cut off by the stop was made again,
    // once; no completed call twice.
    expectResumedWithoutRepeats(llm, parseSse(await events.text()));
  }, 120_000);
});
