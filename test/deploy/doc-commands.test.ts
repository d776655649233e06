// Every `kubectl`, `docker-compose`, `pm2`, `terraform` and `aws rds` command printed in the
// documentation (docs/, the runbooks in docs/runbooks, the READMEs) and in the operations guide
// names only things the shipped files define: Deployments, containers, HPAs, Services, labels,
// kustomization paths, compose services and profiles, PM2 apps, tfvars files, Terraform outputs,
// RDS identifiers; and runs, in a compose service, a program its image has.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { OVERLAYS, kustomizations, render, type K8sObject } from './kustomize.js';
import { ROOT, filesUnder, readText } from './repo.js';

const SOURCES = [
  ...filesUnder('docs', /\.md$/),
  'README.md',
  'deploy/terraform/README.md',
  'test/deploy/production-operations.md',
];

interface Command {
  file: string;
  tool: 'kubectl' | 'docker-compose' | 'pm2' | 'terraform' | 'aws rds';
  words: string[];
  text: string;
}

/** Shell words of `s`: whitespace-separated, quotes removed. */
function shellWords(s: string): string[] {
  return [...s.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** Code of a markdown file: fenced blocks and inline code spans, one snippet per line. */
function codeOf(md: string): string[] {
  const out: string[] = [];
  const fenced = /```[^\n]*\n([\s\S]*?)```/g;
  for (const m of md.matchAll(fenced)) {
    // Lines continued with a backslash, or inside a single-quoted argument, make one command.
    let pending = '';
    for (const line of m[1]!.replace(/\\\n\s*/g, ' ').split('\n')) {
      pending = pending ? `${pending} ${line.trim()}` : line;
      if ((pending.match(/'/g) ?? []).length % 2 === 0) {
        out.push(pending);
        pending = '';
      }
    }
    if (pending) out.push(pending);
  }
  for (const m of md.replace(fenced, '').matchAll(/`([^`\n]+)`/g)) out.push(m[1]!);
  return out;
}

function commandsIn(file: string): Command[] {
  const out: Command[] = [];
  for (const line of codeOf(readText(file))) {
    const code = line.replace(/(^|\s)#.*$/, '');
    const re =
      /(?:^|[\s("$(])(kubectl|docker-compose|docker compose|pm2|terraform|aws rds)\s+((?:'[^']*'|[^;|&"`)\n'])*)/g;
    for (const m of code.matchAll(re)) {
      const tool = m[1] === 'docker compose' ? 'docker-compose' : (m[1] as Command['tool']);
      const words = shellWords(m[2]!.trim());
      if (words.length === 0 || words[0]!.startsWith('<')) continue;
      out.push({ file, tool, words, text: `${tool} ${m[2]!.trim()}` });
    }
  }
  return out;
}

const commands = SOURCES.flatMap(commandsIn);

// What the shipped files define.
const k8s: K8sObject[] = [...OVERLAYS, 'deploy/k8s/cluster-autoscaler'].flatMap((d) => render(d));
const named = (kind: string) =>
  new Set(k8s.filter((o) => o.kind === kind).map((o) => o.metadata.name));
const KINDS: Record<string, string> = {
  deployment: 'Deployment',
  deployments: 'Deployment',
  deploy: 'Deployment',
  hpa: 'HorizontalPodAutoscaler',
  horizontalpodautoscaler: 'HorizontalPodAutoscaler',
  service: 'Service',
  services: 'Service',
  svc: 'Service',
  cronjob: 'CronJob',
  cronjobs: 'CronJob',
  configmap: 'ConfigMap',
  cm: 'ConfigMap',
  pdb: 'PodDisruptionBudget',
  networkpolicy: 'NetworkPolicy',
  namespace: 'Namespace',
  ns: 'Namespace',
};
const podLabels = k8s.flatMap((o) => {
  if (o.kind === 'Deployment') return [o.spec.template.metadata.labels as Record<string, string>];
  if (o.kind === 'CronJob') return [o.spec.jobTemplate.spec.template.metadata.labels];
  return [];
});
const namespaces = new Set(['kube-system', ...named('Namespace')]);
const compose = YAML.parse(readText('docker-compose.yml'), { merge: true }) as {
  services: Record<string, { profiles?: string[]; image: string }>;
};
const ecosystem = createRequire(import.meta.url)(path.join(ROOT, 'ecosystem.config.cjs')) as {
  apps: { name: string }[];
};
const pm2Apps = ecosystem.apps.map((a) => a.name);

const tfOutputs = [
  ...readText('deploy/terraform/outputs.tf').matchAll(/^output "([a-z0-9_]+)"/gm),
].map((m) => m[1]!);
const rdsIdentifiers = [
  ...readText('deploy/terraform/environments/production.tfvars').matchAll(
    /^db_(?:replica_)?identifier\s*=\s*"([^"]+)"/gm,
  ),
].map((m) => m[1]!);

/** Programs a compose service's container has that the docs may run with `exec`. */
const PROGRAMS: Record<string, string[]> = {
  // Our image (Dockerfile): node and the cfn link, Debian's base tools, postgresql-client, ping.
  'claude-flow-novice': [
    'node',
    'cfn',
    'env',
    'sh',
    'bash',
    'cat',
    'ls',
    'df',
    'ping',
    'pg_isready',
    'psql',
  ],
  postgres: ['pg_isready', 'psql', 'pg_dump', 'sh', 'bash'],
  redis: ['redis-cli', 'sh', 'bash'],
  nginx: ['nginx', 'sh', 'bash'],
};
PROGRAMS['claude-flow-novice-worker'] = PROGRAMS['claude-flow-novice']!;

function pathExists(p: string): boolean {
  return [p, path.join('deploy', p)].some((c) => fs.existsSync(path.join(ROOT, c)));
}

/** Problems with one command; empty when everything it names is defined. */
function check(c: Command): string[] {
  const problems: string[] = [];
  const w = c.words;
  const valueOf = (flag: string) => {
    const i = w.findIndex((x) => x === flag || x.startsWith(`${flag}=`));
    if (i < 0) return undefined;
    return w[i]!.startsWith(`${flag}=`) ? w[i]!.slice(flag.length + 1) : w[i + 1];
  };
  if (c.tool === 'kubectl') {
    const ns = valueOf('-n') ?? valueOf('--namespace');
    if (ns && !namespaces.has(ns)) problems.push(`namespace ${ns}`);
    const label = valueOf('-l') ?? valueOf('--selector');
    if (label)
      for (const pair of label.split(',')) {
        const [k, v] = pair.split('=');
        if (!podLabels.some((l) => l[k!] === v)) problems.push(`no pods labelled ${pair}`);
      }
    for (const flag of ['-k', '-f', '--kustomize', '--filename']) {
      const p = valueOf(flag);
      if (p && p !== '-' && !pathExists(p)) problems.push(`path ${p}`);
    }
    if (w[0] === 'kustomize' && w[1] && !kustomizations('Kustomization').includes(w[1]))
      problems.push(`kustomization ${w[1]}`);
    const positional = w.filter(
      (x, i) => !x.startsWith('-') && !/^-/.test(w[i - 1] ?? '') && i > 0,
    );
    // deployment/NAME, deploy/NAME, ... anywhere; or "<verb> [sub] <kind> NAME".
    for (const x of new Set(w.map((y) => y.replace(/^--from=/, '')))) {
      const slash = /^([a-z]+)\/([a-z0-9-]+)$/.exec(x);
      if (slash && KINDS[slash[1]!] && !named(KINDS[slash[1]!]!).has(slash[2]!))
        problems.push(`${KINDS[slash[1]!]} ${slash[2]}`);
    }
    const kindAt = positional.findIndex((x) => KINDS[x]);
    const name = kindAt >= 0 ? positional[kindAt + 1] : undefined;
    if (name && !name.startsWith('<') && !named(KINDS[positional[kindAt]!]!).has(name))
      problems.push(`${KINDS[positional[kindAt]!]} ${name}`);
    const container = ['exec', 'logs'].includes(w[0]!) ? valueOf('-c') : undefined;
    const owner = positional
      .map((x) => /^(?:deploy|deployment)\/([a-z0-9-]+)$/.exec(x)?.[1])
      .find(Boolean);
    if (container && owner) {
      const d = k8s.find((o) => o.kind === 'Deployment' && o.metadata.name === owner);
      const have = (d?.spec.template.spec.containers ?? []).map((x: { name: string }) => x.name);
      if (!have.includes(container)) problems.push(`container ${container} of ${owner}`);
    }
    const patch = w[0] === 'patch' ? valueOf('-p') : undefined;
    if (patch && name) {
      const spec = JSON.parse(patch) as {
        spec?: { template?: { spec?: { containers?: { name: string }[] } } };
      };
      const target = k8s.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
      const have = (target?.spec.template.spec.containers ?? []).map(
        (x: { name: string }) => x.name,
      );
      for (const ct of spec.spec?.template?.spec?.containers ?? [])
        if (!have.includes(ct.name)) problems.push(`container ${ct.name} of ${name}`);
    }
  }
  if (c.tool === 'docker-compose') {
    const withValue = new Set([
      '-f',
      '--file',
      '--profile',
      '--tail',
      '-e',
      '--env',
      '-u',
      '--user',
      '-w',
      '--workdir',
      '-p',
      '--project-name',
      '--scale',
      '--timeout',
      '-t',
    ]);
    const profiles = new Set(Object.values(compose.services).flatMap((s) => s.profiles ?? []));
    for (let i = 0; i < w.length; i++)
      if (w[i] === '--profile' && !profiles.has(w[i + 1]!)) problems.push(`profile ${w[i + 1]}`);
    const scale = valueOf('--scale');
    if (scale && !compose.services[scale.split('=')[0]!]) problems.push(`service ${scale}`);
    const args: string[] = [];
    for (let i = 0; i < w.length; i++) {
      if (withValue.has(w[i]!)) i++;
      else if (!w[i]!.startsWith('-')) args.push(w[i]!);
    }
    const [sub, ...rest] = args;
    const takesOne = ['exec', 'run'].includes(sub!);
    const services = takesOne ? rest.slice(0, 1) : rest;
    for (const s of services) if (!compose.services[s]) problems.push(`service ${s}`);
    if (takesOne && rest.length > 1) {
      const program = rest[1]!;
      const known = PROGRAMS[rest[0]!];
      if (known && !known.includes(program)) problems.push(`${rest[0]} has no ${program}`);
      const u = w.indexOf('-U');
      const d = w.indexOf('-d');
      if (rest[0] === 'postgres' && u > 0 && w[u + 1] !== 'claudeflow')
        problems.push(`user ${w[u + 1]}`);
      if (rest[0] === 'postgres' && d > 0 && w[d + 1] !== 'claudeflow')
        problems.push(`database ${w[d + 1]}`);
    }
  }
  if (c.tool === 'terraform') {
    const file = valueOf('-var-file');
    if (file && !fs.existsSync(path.join(ROOT, 'deploy/terraform', file)))
      problems.push(`file ${file}`);
    const output = w[0] === 'output' ? w.filter((x) => !x.startsWith('-'))[1] : undefined;
    if (output && !tfOutputs.includes(output)) problems.push(`output ${output}`);
  }
  if (c.tool === 'aws rds') {
    for (const flag of ['--db-instance-identifier', '--source-db-instance-identifier']) {
      const id = valueOf(flag);
      if (id && !rdsIdentifiers.includes(id)) problems.push(`RDS instance ${id}`);
    }
  }
  if (c.tool === 'pm2') {
    const [sub, ...rest] = w.filter((x) => !x.startsWith('-'));
    const withName = ['reload', 'restart', 'stop', 'delete', 'logs', 'scale', 'describe', 'show'];
    if (sub === 'start' && rest[0] && !pathExists(rest[0])) problems.push(`file ${rest[0]}`);
    if (withName.includes(sub!) && rest[0] && rest[0] !== 'all' && !pm2Apps.includes(rest[0]))
      if (!pathExists(rest[0])) problems.push(`app ${rest[0]}`);
  }
  return problems;
}

describe('commands in the documentation', () => {
  it('are found: the guide alone prints dozens', () => {
    const inGuide = commands.filter((c) => c.file.endsWith('production-operations.md'));
    expect(inGuide.length).toBeGreaterThan(25);
    const texts = commands.map((c) => c.text);
    for (const expected of [
      'kubectl scale deployment claude-flow-novice --replicas=10',
      'kubectl get hpa claude-flow-novice-hpa --watch',
      'docker-compose exec postgres pg_isready',
      'kubectl rollout restart deployment/postgres',
      'terraform apply -var-file=environments/disaster-recovery.tfvars',
    ])
      expect(texts).toContain(expected);
    expect(commands.some((c) => c.tool === 'pm2')).toBe(true);
    const ours = commands.filter((c) => c.file === 'docs/operations/deployment.md');
    expect(ours.length).toBeGreaterThan(30);
  });

  it('name only deployments, containers, services and apps the shipped files define', () => {
    const problems = commands.flatMap((c) => check(c).map((p) => `${c.file}: ${c.text}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('would name a missing resource as a problem (the check is not a no-op)', () => {
    const fake = (tool: Command['tool'], text: string) =>
      check({ file: 'x', tool, words: shellWords(text), text });
    expect(fake('kubectl', 'scale deployment claude-flow --replicas=3')).toEqual([
      'Deployment claude-flow',
    ]);
    expect(fake('kubectl', 'rollout restart deployment/mysql')).toEqual(['Deployment mysql']);
    expect(
      fake(
        'kubectl',
        `patch deployment claude-flow-novice -p '{"spec":{"template":{"spec":{"containers":[{"name":"web"}]}}}}'`,
      ),
    ).toEqual(['container web of claude-flow-novice']);
    expect(fake('kubectl', 'wait --for=condition=ready pod -l app=cfn')).toEqual([
      'no pods labelled app=cfn',
    ]);
    expect(fake('docker-compose', 'exec db pg_isready')).toEqual(['service db']);
    expect(fake('docker-compose', 'exec claude-flow-novice curl -f localhost:3000')).toEqual([
      'claude-flow-novice has no curl',
    ]);
    expect(fake('docker-compose', 'exec postgres psql -U postgres -d claudeflow')).toEqual([
      'user postgres',
    ]);
    expect(fake('pm2', 'reload cfn-api')).toEqual(['app cfn-api']);
    expect(fake('terraform', 'apply -var-file=environments/dr.tfvars')).toEqual([
      'file environments/dr.tfvars',
    ]);
    expect(fake('terraform', 'output -raw k8s_env')).toEqual(['output k8s_env']);
    expect(fake('aws rds', 'reboot-db-instance --db-instance-identifier claude-primary')).toEqual([
      'RDS instance claude-primary',
    ]);
    expect(fake('kubectl', 'create job now --from=cronjob/cfn-backup')).toEqual([
      'CronJob cfn-backup',
    ]);
    expect(fake('kubectl', 'exec deploy/claude-flow-novice -c web -- cfn health')).toEqual([
      'container web of claude-flow-novice',
    ]);
  });

  it('runs in our image only programs the Dockerfile installs', () => {
    const dockerfile = readText('Dockerfile');
    for (const pkg of ['postgresql-client', 'iputils-ping']) expect(dockerfile).toContain(pkg);
    expect(dockerfile).toContain('ln -s /app/dist/main/bin.js /usr/local/bin/cfn');
  });
});
