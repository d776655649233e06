// Renders the shipped kustomizations with the real `kubectl kustomize` and validates rendered
// objects against the Kubernetes API schemas of the kubernetes-models packages.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { CronJob } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import {
  ConfigMap,
  Namespace,
  PersistentVolumeClaim,
  Secret,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1';
import { ROOT, filesUnder, yamlDocuments } from './repo.js';

/** A rendered Kubernetes object, loosely typed: tests read the fields they check. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any API object's spec
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface Validating {
  validate(): void;
}
type ModelClass = new (data: never) => Validating;

const MODELS: Record<string, ModelClass> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/CronJob': CronJob,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** Throws naming the object and the schema errors when `obj` does not validate. */
export function validateObject(obj: K8sObject): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind} ${obj.metadata.name}`);
  try {
    new Model(obj as never).validate();
  } catch (err) {
    throw new Error(`${obj.kind} ${obj.metadata.name}: ${(err as Error).message}`);
  }
}

const K8S = 'deploy/k8s';

/** Every directory under deploy/k8s with a kustomization.yaml, by its kind. */
export function kustomizations(kind: 'Kustomization' | 'Component'): string[] {
  return filesUnder(K8S, /^kustomization\.yaml$/)
    .filter((f) => {
      const doc = yamlDocuments(fs.readFileSync(path.join(ROOT, f), 'utf8'))[0] as {
        kind?: string;
      };
      return (doc.kind ?? 'Kustomization') === kind;
    })
    .map((f) => path.dirname(f));
}

export const OVERLAYS = ['staging', 'production', 'bundled', 'disaster-recovery'].map(
  (o) => `${K8S}/overlays/${o}`,
);

function kubectl(args: string[]): string {
  try {
    return execFileSync('kubectl', args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT')
      throw new Error('kubectl not found: run scripts/install-test-tools.sh', { cause: err });
    throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr?.toString() ?? e.message}`, {
      cause: err,
    });
  }
}

let versionChecked = false;
const rendered = new Map<string, K8sObject[]>();

/** `kubectl kustomize <dir>`, parsed (cached per directory). */
export function render(dir: string): K8sObject[] {
  if (!versionChecked) {
    // Components (kustomize 3.7) and replacements (4.1) need a kubectl of 1.21 or later.
    const v = JSON.parse(kubectl(['version', '--client', '-o', 'json'])) as {
      kustomizeVersion?: string;
    };
    const major = Number(/^v(\d+)/.exec(v.kustomizeVersion ?? '')?.[1] ?? 0);
    if (major < 5)
      throw new Error(`kubectl's kustomize ${v.kustomizeVersion ?? '?'} is too old: need v5+`);
    versionChecked = true;
  }
  let objects = rendered.get(dir);
  if (!objects) {
    objects = yamlDocuments(kubectl(['kustomize', dir])) as K8sObject[];
    rendered.set(dir, objects);
  }
  return objects;
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
}
