// deploy/terraform without the cloud: every .tf and .tfvars file parses (HCL, @cdktf/hcl2json),
// every variable a tfvars file sets is declared, every module gets exactly its declared inputs
// (all required ones), every var.X and module.X.Y reference resolves, and the output that feeds
// the Kubernetes overlays has the keys of their infra.env.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, filesUnder, readText } from './repo.js';

// Loaded untyped: its declarations reference lib "dom", whose Headers would then clash with
// Node's in the project's type check.
const { parse } = createRequire(import.meta.url)('@cdktf/hcl2json') as {
  parse(filename: string, contents: string): Promise<Record<string, unknown>>;
};

const TF = 'deploy/terraform';
/** Block attributes of module calls that are not inputs. */
const META = new Set(['source', 'version', 'count', 'for_each', 'providers', 'depends_on']);

type Hcl = Record<string, Record<string, Record<string, unknown>[]>>;
interface Module {
  dir: string;
  text: string;
  variables: Map<string, { default?: unknown }>;
  outputs: Set<string>;
  calls: Map<string, Record<string, unknown>>;
}

const parsed = new Map<string, Record<string, unknown>>();
const modules = new Map<string, Module>();

async function loadModule(dir: string): Promise<Module> {
  const m: Module = { dir, text: '', variables: new Map(), outputs: new Set(), calls: new Map() };
  for (const f of fs.readdirSync(path.join(ROOT, dir)).filter((n) => n.endsWith('.tf'))) {
    const text = readText(path.join(dir, f));
    m.text += text + '\n';
    const hcl = parsed.get(path.join(dir, f)) as Hcl;
    for (const [name, [body]] of Object.entries(hcl.variable ?? {})) m.variables.set(name, body!);
    for (const name of Object.keys(hcl.output ?? {})) m.outputs.add(name);
    for (const [name, [body]] of Object.entries(hcl.module ?? {})) m.calls.set(name, body!);
  }
  return m;
}

beforeAll(async () => {
  for (const f of filesUnder(TF, /\.(tf|tfvars)$/)) parsed.set(f, await parse(f, readText(f)));
  const dirs = [
    TF,
    ...fs.readdirSync(path.join(ROOT, TF, 'modules')).map((d) => `${TF}/modules/${d}`),
  ];
  for (const d of dirs) modules.set(d, await loadModule(d));
});

const root = () => modules.get(TF)!;

describe('Terraform', () => {
  it('parses every .tf and .tfvars file, and refuses broken HCL', async () => {
    const files = filesUnder(TF, /\.(tf|tfvars)$/);
    expect(files).toEqual(
      expect.arrayContaining([
        `${TF}/main.tf`,
        `${TF}/environments/production.tfvars`,
        `${TF}/environments/disaster-recovery.tfvars`,
      ]),
    );
    expect(parsed.size).toBe(files.length);
    await expect(parse('broken.tf', 'variable "a" {\n  type = string\n')).rejects.toThrow(
      /Unclosed configuration block/,
    );
  });

  it('declares every variable a tfvars file sets, and each sets every required one', () => {
    const declared = root().variables;
    const required = [...declared].filter(([, v]) => !('default' in v)).map(([n]) => n);
    for (const f of filesUnder(`${TF}/environments`, /\.tfvars$/)) {
      const set = Object.keys(parsed.get(f)!);
      for (const name of set) expect([...declared.keys()], `${f}: ${name}`).toContain(name);
      for (const name of required) expect(set, `${f} sets ${name}`).toContain(name);
    }
  });

  it('wires every module input: declared by the module, and every required one given', () => {
    const called = new Set<string>();
    for (const m of modules.values())
      for (const [name, call] of m.calls) {
        const target = modules.get(path.join(m.dir, call.source as string));
        expect(target, `module ${name}: source ${String(call.source)}`).toBeDefined();
        called.add(target!.dir);
        const inputs = Object.keys(call).filter((k) => !META.has(k));
        for (const i of inputs) expect([...target!.variables.keys()], `${name}.${i}`).toContain(i);
        for (const [v, body] of target!.variables)
          if (!('default' in body)) expect(inputs, `module ${name} gets ${v}`).toContain(v);
      }
    // Every module under modules/ is used.
    expect([...modules.keys()].filter((d) => d !== TF && !called.has(d))).toEqual([]);
  });

  it('resolves every var.X and module.X.Y reference', () => {
    for (const m of modules.values()) {
      for (const [, v] of m.text.matchAll(/\bvar\.([a-z0-9_]+)/g))
        expect([...m.variables.keys()], `${m.dir}: var.${v}`).toContain(v);
      for (const [, mod, out] of m.text.matchAll(/\bmodule\.([a-z0-9_]+)\.([a-z0-9_]+)/g)) {
        const call = m.calls.get(mod!);
        expect(call, `${m.dir}: module.${mod}`).toBeDefined();
        const target = modules.get(path.join(m.dir, call!.source as string))!;
        expect([...target.outputs], `${m.dir}: module.${mod}.${out}`).toContain(out);
      }
    }
  });

  it('outputs k8s_infra_env with exactly the keys of the overlays’ infra.env files', () => {
    const outputs = parsed.get(`${TF}/outputs.tf`) as Hcl;
    const value = String(outputs.output!.k8s_infra_env![0]!.value);
    const keys = [...value.matchAll(/"([A-Z_]+)=/g)].map((m) => m[1]).sort();
    for (const f of [
      'deploy/k8s/overlays/production/infra.env',
      'deploy/k8s/overlays/disaster-recovery/infra.env',
      'deploy/k8s/cluster-autoscaler/infra.env',
    ]) {
      const envKeys = [...readText(f).matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]).sort();
      expect(envKeys, f).toEqual(keys);
    }
  });

  it("provisions the guide's stack and pins its providers", () => {
    const text = [...modules.values()].map((m) => m.text).join('\n');
    for (const resource of [
      'aws_vpc',
      'aws_eks_cluster',
      'aws_eks_node_group',
      'aws_iam_openid_connect_provider',
      'aws_elasticache_replication_group',
      'aws_s3_bucket_versioning',
      'aws_s3_bucket_server_side_encryption_configuration',
    ])
      expect(text, resource).toContain(`resource "${resource}"`);
    expect(text).toMatch(/resource "aws_db_instance" "primary"[\s\S]*?engine_version = "15"/);
    expect(text).toMatch(/resource "aws_db_instance" "replica"[\s\S]*?replicate_source_db/);
    expect(text).toMatch(/engine_version\s+= "7\.\d+"/);
    const versions = parsed.get(`${TF}/versions.tf`) as Record<string, Record<string, unknown>[]>;
    const providers = (versions.terraform![0]!.required_providers as Record<string, unknown>[])[0]!;
    for (const [name, p] of Object.entries(providers))
      expect((p as { version?: string }).version, name).toMatch(/^~> \d+\.\d+$/);
    // The guide's RDS identifiers, and the disaster-recovery file the guide applies.
    const prod = parsed.get(`${TF}/environments/production.tfvars`)!;
    expect(prod).toMatchObject({
      db_identifier: 'claude-flow-primary',
      db_replica_identifier: 'claude-flow-read-replica',
    });
    const dr = parsed.get(`${TF}/environments/disaster-recovery.tfvars`)!;
    expect(dr.region).not.toBe(prod.region);
    expect(dr.name).not.toBe(prod.name); // IAM role names are global
    expect(dr.existing_backup_bucket).toEqual(expect.any(String));
  });
});
