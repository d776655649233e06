// Policies every rendered overlay must satisfy: the guide's names, probes on the service's real
// health routes, resources, a locked-down security context, pinned images, the guide's HPA as
// written in the guide, and references (ConfigMaps, Secrets, selectors) that resolve.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { envSchema } from '../../src/config/schema.js';
import { JOB_NAMES } from '../../src/ports/job-catalog.js';
import { OVERLAYS, find, render, type K8sObject } from './kustomize.js';
import { ROOT, readText, yamlDocuments } from './repo.js';

const GUIDE = readText('test/deploy/production-operations.md');
const pkg = JSON.parse(readText('package.json')) as { version: string };
const CONFIG_VARS = new Set(Object.keys(envSchema.shape));

/** The guide's fenced YAML block that contains `marker`, parsed. */
function guideYaml(marker: string): unknown {
  const block = [...GUIDE.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .find((b) => b.includes(marker));
  if (!block) throw new Error(`no yaml block with ${marker} in the guide`);
  return YAML.parse(block);
}

interface PodOwner {
  obj: K8sObject;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a PodSpec
  pod: any;
}

function podOwners(objects: K8sObject[]): PodOwner[] {
  return objects.flatMap((obj) => {
    if (obj.kind === 'Deployment') return [{ obj, pod: obj.spec.template.spec }];
    if (obj.kind === 'CronJob') return [{ obj, pod: obj.spec.jobTemplate.spec.template.spec }];
    return [];
  });
}

const ours = (image: string) => /(^|\/)claude-flow-novice:/.test(image);
const healthRoutes = [...readText('src/http/routes/health.ts').matchAll(/router\.get\('([^']+)'/g)]
  .map((m) => m[1]!)
  .sort();

describe('the guide', () => {
  it('is the copy in shared/seed when that is beside the repository', () => {
    const shared = path.join(ROOT, '..', 'shared', 'seed', 'PRODUCTION_OPERATIONS.md');
    if (fs.existsSync(shared)) expect(GUIDE).toBe(fs.readFileSync(shared, 'utf8'));
    expect(GUIDE).toMatch(/name: claude-flow-novice-hpa/);
  });
});

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const objects = render(overlay);
  const owners = podOwners(objects);

  it("has the guide's Deployment claude-flow-novice: container app, label app, `cfn serve`", () => {
    const d = find(objects, 'Deployment', 'claude-flow-novice');
    expect(d.spec.selector.matchLabels).toEqual({ app: 'claude-flow-novice' });
    expect(d.spec.template.metadata.labels.app).toBe('claude-flow-novice');
    const [app] = d.spec.template.spec.containers;
    expect(app.name).toBe('app');
    expect(app.args).toEqual(['serve']);
    const w = find(objects, 'Deployment', 'claude-flow-novice-worker');
    expect(w.spec.template.spec.containers[0].args).toEqual(['worker']);
    // `kubectl wait -l app=claude-flow-novice` and the Service select API pods only.
    for (const o of owners.filter((x) => x.obj !== d))
      expect(o.obj.spec.template?.metadata?.labels?.app, o.obj.metadata.name).not.toBe(
        'claude-flow-novice',
      );
  });

  it("has claude-flow-novice-hpa exactly as the guide's YAML", () => {
    const guide = guideYaml('kind: HorizontalPodAutoscaler') as K8sObject;
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'claude-flow-novice-hpa');
    expect(hpa.apiVersion).toBe(guide.apiVersion);
    expect(hpa.spec).toEqual(guide.spec);
    expect(guide.spec.minReplicas).toBe(2);
  });

  it('probes our containers on the health routes the service serves', () => {
    expect(healthRoutes).toEqual(['/health', '/health/live', '/health/ready']);
    const deployments = owners.filter((o) => o.obj.kind === 'Deployment');
    for (const { obj, pod } of deployments)
      for (const c of pod.containers.filter((x: { image: string }) => ours(x.image))) {
        const port = c.ports.find((p: { name: string }) => p.name === 'http');
        expect(port.containerPort).toBe(3000);
        expect(c.startupProbe.httpGet.path, obj.metadata.name).toBe('/health/live');
        expect(c.livenessProbe.httpGet.path, obj.metadata.name).toBe('/health/live');
        expect(c.readinessProbe.httpGet.path, obj.metadata.name).toBe('/health/ready');
        for (const p of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
          expect(healthRoutes).toContain(p.httpGet.path);
          expect(p.httpGet.port).toBe('http');
        }
      }
    // Every other long-running container has readiness and liveness probes of some kind.
    for (const { pod } of deployments)
      for (const c of pod.containers) expect(c.livenessProbe ?? c.readinessProbe).toBeDefined();
  });

  it('sets CPU and memory requests and limits on every container', () => {
    for (const { obj, pod } of owners)
      for (const c of pod.containers)
        for (const k of ['requests', 'limits'])
          expect(Object.keys(c.resources?.[k] ?? {}).sort(), `${obj.metadata.name} ${k}`).toEqual([
            'cpu',
            'memory',
          ]);
  });

  it('runs every container non-root, read-only, without privileges, under RuntimeDefault', () => {
    for (const { obj, pod } of owners) {
      const name = obj.metadata.name;
      expect(pod.securityContext?.runAsNonRoot, name).toBe(true);
      expect(pod.securityContext?.runAsUser, name).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile?.type, name).toBe('RuntimeDefault');
      for (const c of pod.containers) {
        expect(c.securityContext?.readOnlyRootFilesystem, name).toBe(true);
        expect(c.securityContext?.allowPrivilegeEscalation, name).toBe(false);
        expect(c.securityContext?.capabilities?.drop, name).toEqual(['ALL']);
        if (!ours(c.image)) continue;
        // Writable: /tmp and the data directory, each a volume.
        const mounts = c.volumeMounts.map((m: { mountPath: string }) => m.mountPath).sort();
        expect(mounts, name).toEqual(['/data', '/tmp']);
        const config = find(objects, 'ConfigMap', c.envFrom[0].configMapRef.name);
        expect(config.data?.CFN_DATA_DIR).toBe('/data');
      }
    }
  });

  it(`pins every image; ours is claude-flow-novice:${pkg.version}`, () => {
    for (const { obj, pod } of owners)
      for (const c of pod.containers) {
        expect(c.image, obj.metadata.name).toMatch(/:[\w.-]+$/);
        expect(c.image, obj.metadata.name).not.toMatch(/:latest$/);
        if (ours(c.image)) expect(c.image).toBe(`claude-flow-novice:${pkg.version}`);
      }
  });

  it('references ConfigMaps that it renders and Secret keys of secret.example.yaml', () => {
    const example = yamlDocuments(readText('deploy/k8s/base/secret.example.yaml'))[0] as K8sObject;
    const secretKeys = Object.keys(example.stringData ?? {});
    for (const { pod } of owners)
      for (const c of pod.containers) {
        for (const e of c.envFrom ?? []) {
          if (e.configMapRef) find(objects, 'ConfigMap', e.configMapRef.name);
          if (e.secretRef) expect(e.secretRef.name).toBe(example.metadata.name);
        }
        for (const e of c.env ?? [])
          if (e.valueFrom?.secretKeyRef) {
            expect(e.valueFrom.secretKeyRef.name).toBe(example.metadata.name);
            expect(secretKeys).toContain(e.valueFrom.secretKeyRef.key);
          }
      }
    // Every key the service reads is one of its variables (a typo would be ignored silently).
    const config = find(objects, 'ConfigMap', 'claude-flow-novice-config');
    for (const key of Object.keys(config.data ?? {})) expect(CONFIG_VARS, key).toContain(key);
    for (const key of secretKeys.filter((k) => !/^(POSTGRES|REDIS)_PASSWORD$/.test(k)))
      expect(CONFIG_VARS, key).toContain(key);
  });

  it('selects existing pods from Services, PDBs, NetworkPolicies; HPAs target Deployments', () => {
    const podLabels = owners
      .map((o) => o.pod && o.obj)
      .map((o) => {
        const t = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template;
        return t.metadata.labels as Record<string, string>;
      });
    const matches = (sel: Record<string, string>) =>
      podLabels.some((l) => Object.entries(sel).every(([k, v]) => l[k] === v));
    for (const s of objects.filter((o) => o.kind === 'Service'))
      expect(matches(s.spec.selector), `Service ${s.metadata.name}`).toBe(true);
    for (const p of objects.filter((o) => o.kind === 'PodDisruptionBudget'))
      expect(matches(p.spec.selector.matchLabels), `PDB ${p.metadata.name}`).toBe(true);
    for (const n of objects.filter((o) => o.kind === 'NetworkPolicy'))
      for (const e of n.spec.podSelector.matchExpressions ?? [])
        for (const v of e.values)
          expect(matches({ [e.key]: v }), `${n.metadata.name} ${v}`).toBe(true);
    for (const h of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler'))
      find(objects, 'Deployment', h.spec.scaleTargetRef.name);
  });

  it('gives the pods time to drain and finish their work before SIGKILL', () => {
    const config = find(objects, 'ConfigMap', 'claude-flow-novice-config').data!;
    for (const name of ['claude-flow-novice', 'claude-flow-novice-worker']) {
      const pod = find(objects, 'Deployment', name).spec.template.spec;
      const env = Object.fromEntries(
        (pod.containers[0].env ?? []).map((e: { name: string; value: string }) => [
          e.name,
          e.value,
        ]),
      );
      const ms = (k: string) => Number(env[k] ?? config[k]);
      // Drain, then in-flight requests, then agent tasks (each up to SHUTDOWN_TIMEOUT_MS).
      const needed = ms('SHUTDOWN_DRAIN_MS') + 2 * ms('SHUTDOWN_TIMEOUT_MS');
      expect(pod.terminationGracePeriodSeconds * 1000, name).toBeGreaterThan(needed);
    }
  });

  it('runs the backup schedules as CronJobs, at the README defaults, instead of in replicas', () => {
    const config = find(objects, 'ConfigMap', 'claude-flow-novice-config').data!;
    expect(config.BACKUP_SCHEDULES).toBe('off');
    const readme = readText('README.md');
    const defaultOf = (v: string) =>
      new RegExp('\\| `' + v + '` \\| `([^`]+)` \\|').exec(readme)?.[1];
    const schedule = (name: string) => find(objects, 'CronJob', name).spec.schedule as string;
    expect(schedule('claude-flow-novice-backup-database')).toBe(
      defaultOf('BACKUP_SCHEDULE_DATABASE'),
    );
    expect(schedule('claude-flow-novice-backup-app-data')).toBe(
      defaultOf('BACKUP_SCHEDULE_APP_DATA'),
    );
    expect(schedule('claude-flow-novice-backup-prune')).toBe(defaultOf('BACKUP_SCHEDULE_PRUNE'));
    expect(schedule('claude-flow-novice-backup-verify')).toBe(defaultOf('BACKUP_SCHEDULE_VERIFY'));
    for (const c of objects.filter((o) => o.kind === 'CronJob')) {
      expect(c.spec.timeZone).toBe('Etc/UTC');
      expect(c.spec.concurrencyPolicy).toBe('Forbid');
    }
  });

  it('scales workers on the queue_depth metric the service exports', () => {
    const hpa = objects.find((o) => o.metadata.name === 'claude-flow-novice-worker-hpa');
    if (overlay.endsWith('/bundled')) return expect(hpa).toBeUndefined();
    expect(hpa?.spec.scaleTargetRef.name).toBe('claude-flow-novice-worker');
    const [metric] = hpa!.spec.metrics;
    expect(metric.external.metric.name).toBe('queue_depth');
    expect(readText('src/observability/engine-metrics.ts')).toMatch(
      /name: 'queue_depth',[\s\S]{0,120}labelNames: \['queue', 'state'\]/,
    );
    expect(JOB_NAMES).toContain(metric.external.metric.selector.matchLabels.queue);
    const adapter = YAML.parse(readText('deploy/k8s/prometheus-adapter-values.yaml')) as {
      rules: { external: { name: { as: string }; seriesQuery: string }[] };
    };
    expect(adapter.rules.external.map((r) => r.name.as)).toContain('queue_depth');
    expect(adapter.rules.external[0]!.seriesQuery).toMatch(
      /^queue_depth\{job="claude-flow-novice"/,
    );
  });
});

describe('the optional ServiceMonitor', () => {
  it('scrapes both Services as job claude-flow-novice, the job of the alert rules', () => {
    const objects = render('deploy/k8s/overlays/production');
    const sm = find(objects, 'ServiceMonitor', 'claude-flow-novice');
    const services = objects.filter((o) => o.kind === 'Service');
    const selected = services.filter((s) =>
      Object.entries(sm.spec.selector.matchLabels as Record<string, string>).every(
        ([k, v]) => s.metadata.labels?.[k] === v,
      ),
    );
    expect(selected.map((s) => s.metadata.name).sort()).toEqual([
      'claude-flow-novice',
      'claude-flow-novice-worker',
    ]);
    for (const s of selected) {
      expect(s.metadata.labels?.[sm.spec.jobLabel]).toBe('claude-flow-novice');
      expect(s.spec.ports.map((p: { name: string }) => p.name)).toContain(
        sm.spec.endpoints[0].port,
      );
    }
    expect(readText('deploy/prometheus/rules/alerts.yml')).toMatch(/job="claude-flow-novice"/);
  });
});

describe('the bundled overlay', () => {
  const objects = render('deploy/k8s/overlays/bundled');

  it('runs Deployments and Services postgres (15, claudeflow) and redis (7)', () => {
    const pg = find(objects, 'Deployment', 'postgres').spec.template.spec.containers[0];
    expect(pg.image).toMatch(/^postgres:15(\.|-)/);
    const env = Object.fromEntries(
      pg.env.map((e: { name: string; value?: string }) => [e.name, e.value]),
    );
    expect(env).toMatchObject({ POSTGRES_DB: 'claudeflow', POSTGRES_USER: 'claudeflow' });
    expect(pg.args).toEqual(['-c', 'shared_preload_libraries=pg_stat_statements']);
    const redis = find(objects, 'Deployment', 'redis').spec.template.spec.containers[0];
    expect(redis.image).toMatch(/^redis:7(\.|-)/);
    for (const name of ['postgres', 'redis']) find(objects, 'Service', name);
    const initdb = find(objects, 'ConfigMap', 'postgres-initdb').data!;
    const sql = readText('deploy/postgres/initdb/10-pg-stat-statements.sql');
    expect(sql.trim().endsWith(initdb['10-pg-stat-statements.sql']!.trim())).toBe(true);
  });
});

describe('the AWS overlays', () => {
  it.each(['production', 'disaster-recovery'])('%s takes its values from infra.env', (o) => {
    const objects = render(`deploy/k8s/overlays/${o}`);
    const infra = Object.fromEntries(
      readText(`deploy/k8s/overlays/${o}/infra.env`)
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    const sa = find(objects, 'ServiceAccount', 'claude-flow-novice');
    expect(sa.metadata.annotations?.['eks.amazonaws.com/role-arn']).toBe(infra.APP_ROLE_ARN);
    const config = find(objects, 'ConfigMap', 'claude-flow-novice-config').data!;
    expect(config.BACKUP_TARGET).toBe(`s3://${infra.BACKUP_BUCKET}/claude-flow-novice`);
    expect(config.BACKUP_S3_REGION).toBe(infra.BACKUP_BUCKET_REGION);
    expect(JSON.stringify(objects)).not.toContain('set-from-infra-env');
  });
});

describe('the cluster autoscaler', () => {
  const objects = render('deploy/k8s/cluster-autoscaler');

  it("runs a current release with the guide's flags, in kube-system, with its RBAC", () => {
    const guide = guideYaml('cluster-autoscaler') as K8sObject;
    const guideFlags = (guide.spec.template.spec.containers[0].command as string[]).slice(1);
    const d = find(objects, 'Deployment', 'cluster-autoscaler');
    const c = d.spec.template.spec.containers[0];
    expect(c.command).toEqual(expect.arrayContaining(guideFlags));
    expect(c.image).toMatch(/^registry\.k8s\.io\/autoscaling\/cluster-autoscaler:v1\.3\d\.\d+$/);
    for (const o of objects.filter(
      (x) => x.kind !== 'ClusterRole' && x.kind !== 'ClusterRoleBinding',
    ))
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('kube-system');
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      const b = find(objects, kind, 'cluster-autoscaler') as K8sObject & {
        subjects: { name: string; namespace: string }[];
        roleRef: { kind: string; name: string };
      };
      expect(b.subjects).toEqual([
        {
          kind: 'ServiceAccount',
          name: d.spec.template.spec.serviceAccountName,
          namespace: 'kube-system',
        },
      ]);
      find(objects, b.roleRef.kind, b.roleRef.name);
    }
    const sa = find(objects, 'ServiceAccount', 'cluster-autoscaler');
    expect(sa.metadata.annotations?.['eks.amazonaws.com/role-arn']).toMatch(
      /^arn:aws:iam::\d{12}:role\//,
    );
  });
});
