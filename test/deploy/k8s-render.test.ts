// Every kustomization under deploy/k8s renders with the real `kubectl kustomize`, and every
// object it renders validates against the Kubernetes API schemas (kubernetes-models).
import { describe, expect, it } from 'vitest';
import { OVERLAYS, kustomizations, render, validateObject, type K8sObject } from './kustomize.js';
import { readText, yamlDocuments } from './repo.js';

describe('Kubernetes manifests', () => {
  const dirs = kustomizations('Kustomization');

  it('include the base, the cluster autoscaler and the four overlays', () => {
    expect(dirs).toEqual(
      expect.arrayContaining(['deploy/k8s/base', 'deploy/k8s/cluster-autoscaler', ...OVERLAYS]),
    );
  });

  it.each(dirs)('%s renders, and every object validates', (dir) => {
    const objects = render(dir);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) validateObject(o);
  });

  it('uses every component in some overlay', () => {
    for (const component of kustomizations('Component')) {
      const users = OVERLAYS.filter((o) =>
        readText(`${o}/kustomization.yaml`).includes(component.replace('deploy/k8s/', '../../')),
      );
      expect(users, component).not.toEqual([]);
    }
  });

  it('keeps the example Secret out of every kustomization, and it validates', () => {
    for (const dir of dirs) expect(render(dir).filter((o) => o.kind === 'Secret')).toEqual([]);
    const [secret] = yamlDocuments(readText('deploy/k8s/base/secret.example.yaml')) as K8sObject[];
    validateObject(secret!);
  });

  it('refuses objects of the wrong shape (the validation is not a no-op)', () => {
    const deployment = render('deploy/k8s/base').find((o) => o.kind === 'Deployment')!;
    const bad = structuredClone(deployment);
    bad.spec.replicas = 'three';
    expect(() => validateObject(bad)).toThrow(/replicas/);
    const noName = structuredClone(deployment);
    delete noName.spec.template.spec.containers[0].name;
    expect(() => validateObject(noName)).toThrow(/name/);
    const hpa = render('deploy/k8s/base').find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    const badHpa = structuredClone(hpa);
    badHpa.spec.minReplicas = 'two';
    expect(() => validateObject(badHpa)).toThrow(/minReplicas/);
    expect(() => validateObject({ ...deployment, kind: 'Deploymnet' })).toThrow(/no schema/);
  });
});
