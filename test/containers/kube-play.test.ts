// The Kubernetes manifests run for real: the base kustomization rendered by `kubectl kustomize`,
// its API Deployment (`cfn serve`) and worker Deployment (`cfn worker`) with their ConfigMap and a
// Secret of the shape secret.example.yaml documents, played by `podman kube play` on the image
// built from the Dockerfile, on PostgreSQL and Redis. Both pods run as uid 10001 on a read-only
// root filesystem, the API becomes ready, and a swarm submitted to it is run by the worker.
//
// What is adapted for a single host, and nothing else: one replica each, the image built here, the Secret in podman's secret store (where podman 4.3 looks for it),
// host networking (podman's pods cannot reach this host's PostgreSQL otherwise), so no container
// ports and numeric probe ports (a named port needs a declared one), and each pod its own PORT.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { find, render, type K8sObject } from '../deploy/kustomize.js';
import { eventually } from '../support/eventually.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import { freePort } from '../support/free-port.js';
import { APP_IMAGE, buildImages, podman, removeQuietly, run } from '../support/podman.js';
import {
  connectTestRedis,
  createTestDatabase,
  type TestDatabase,
  type TestRedis,
} from '../support/services.js';
import { agentOf, implementer, validator, writeAgents } from '../support/swarm-harness.js';

const KEY = 'cfn_kube_play_bootstrap_key_0123456789';
const SECRET = 'claude-flow-novice-secrets';
const PODS = ['claude-flow-novice-pod-0', 'claude-flow-novice-worker-pod-0'];
const CONTAINERS = PODS.map((p) => `${p}-app`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-kube-'));
const manifest = path.join(dir, 'kube.yaml');
let db: TestDatabase;
let redis: TestRedis;
let llm: FakeLlm;
let apiPort: number;
let played = false;

/**
 * The rendered Deployment `d` adapted to one host as the header says, with a copy of its ConfigMap
 * `config` that sets its PORT (podman 4.3 lets envFrom win over a container's env).
 */
function forThisHost(d: K8sObject, config: K8sObject, port: number): K8sObject[] {
  const out = structuredClone(d);
  out.spec.replicas = 1;
  const pod = out.spec.template.spec;
  pod.hostNetwork = true;
  const ownConfig = structuredClone(config);
  ownConfig.metadata.name = `${config.metadata.name}-${d.metadata.name}`;
  ownConfig.data = { ...ownConfig.data, PORT: String(port) };
  for (const c of pod.containers) {
    c.image = APP_IMAGE;
    delete c.ports;
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const get = c[probe]?.httpGet as { port: string | number } | undefined;
      if (get && typeof get.port === 'string') get.port = port;
    }
    for (const from of c.envFrom as Array<{ configMapRef?: { name: string } }>)
      if (from.configMapRef?.name === config.metadata.name)
        from.configMapRef.name = ownConfig.metadata.name;
  }
  return [ownConfig, out];
}

beforeAll(async () => {
  await buildImages('app');
  [db, redis, llm] = await Promise.all([createTestDatabase(), connectTestRedis(), startFakeLlm()]);
  apiPort = await freePort();
  const workerPort = await freePort();
  const agents = path.join(dir, 'agents');
  writeAgents(agents);
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(agents, 0o755);

  const base = render('deploy/k8s/base');
  const config = structuredClone(find(base, 'ConfigMap', 'claude-flow-novice-config'));
  // The agents come from a host directory (an image of one's own would bake them in).
  config.data = {
    ...config.data,
    CFN_AGENTS_DIR: '/agents',
    REDIS_PREFIX: redis.prefix.replace(/:$/, ''),
  };
  const secret: K8sObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: SECRET },
    stringData: {
      DATABASE_URL: db.url,
      REDIS_URL: 'redis://127.0.0.1:6379',
      CFN_BOOTSTRAP_ADMIN_KEY: KEY,
      ANTHROPIC_API_KEY: 'test-key',
      ANTHROPIC_BASE_URL: llm.url,
    },
  };
  const objects = [
    ...forThisHost(find(base, 'Deployment', 'claude-flow-novice'), config, apiPort),
    ...forThisHost(find(base, 'Deployment', 'claude-flow-novice-worker'), config, workerPort),
  ];
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    const pod = d.spec.template.spec;
    pod.volumes.push({ name: 'agents', hostPath: { path: agents, type: 'Directory' } });
    for (const c of pod.containers)
      c.volumeMounts.push({ name: 'agents', mountPath: '/agents', readOnly: true });
  }
  fs.writeFileSync(manifest, objects.map((o) => YAML.stringify(o)).join('---\n'));
  // podman 4.3's kube play takes a Secret from podman's secret store, as the Secret's data in
  // JSON (each value base64-encoded, as the API server holds it).
  const data = Object.fromEntries(
    Object.entries(secret.stringData!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  const secretFile = path.join(dir, 'secret.json');
  fs.writeFileSync(secretFile, JSON.stringify(data));
  await removeQuietly('pod', PODS); // left by an earlier run that was killed
  await removeQuietly('secret', [SECRET]);
  await podman(['secret', 'create', SECRET, secretFile]);
}, 30 * 60_000);

afterAll(async () => {
  if (played) await run('podman', ['kube', 'down', manifest], { timeoutMs: 120_000 });
  await removeQuietly('pod', PODS);
  await removeQuietly('secret', [SECRET]);
  await llm?.close();
  await redis?.cleanup();
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const api = (route: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${apiPort}${route}`, {
    ...init,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
  });

describe('podman kube play of the rendered Deployments', () => {
  it('plays the API and worker pods, which become ready on PostgreSQL and Redis', async () => {
    const out = await podman(['kube', 'play', '--network', 'host', manifest], 300_000);
    played = true;
    expect(out).toMatch(/Pod:/);
    await eventually(
      'the API pod answering /health/ready 200',
      async () => (await api('/health/ready').catch(() => undefined))?.status === 200,
      120_000,
    ).catch(async (err: Error) => {
      const logs = await run('podman', ['logs', '--tail', '30', 'claude-flow-novice-pod-0-app']);
      throw new Error(`${err.message}\n${logs.stdout}${logs.stderr}`);
    });
    // Each pod runs its container `app` (beside its infra container).
    const running = (await podman(['ps', '--format', '{{.Names}}'])).split('\n');
    expect(running).toEqual(expect.arrayContaining(CONTAINERS));
  }, 420_000);

  it('runs them as uid 10001 on a read-only root filesystem', async () => {
    for (const c of CONTAINERS) {
      expect(await podman(['exec', c, 'id', '-u'])).toBe('10001');
      expect(await podman(['inspect', '--format', '{{.HostConfig.ReadonlyRootfs}}', c])).toBe(
        'true',
      );
      const write = await run('podman', ['exec', c, 'touch', '/app/written']);
      expect(write.code).not.toBe(0);
      expect(write.stderr).toMatch(/Read-only file system/);
    }
  });

  it('runs a swarm submitted to the API on the worker', async () => {
    llm.setResponder((req) => (agentOf(req) === 'val-a' ? validator(0.95) : implementer(0.9)));
    const res = await api('/api/swarms', {
      method: 'POST',
      body: JSON.stringify({
        objective: 'run in a pod',
        agents: ['impl-a'],
        validators: ['val-a'],
      }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    let status = '';
    await eventually(
      `swarm ${id} completed`,
      async () => {
        status = ((await (await api(`/api/swarms/${id}`)).json()) as { status: string }).status;
        return status === 'completed';
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (status ${status})`);
    });
    // The worker, not the API replica, made the calls (`cfn serve` runs no swarm).
    const worker = await run('podman', ['logs', 'claude-flow-novice-worker-pod-0-app']);
    expect(worker.stdout + worker.stderr).toContain(id);
  }, 90_000);
});
