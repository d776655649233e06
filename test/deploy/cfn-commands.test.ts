// Every `cfn` command line the shipped files run (Kubernetes containers and CronJobs, compose
// services, PM2 apps, the image's CMD and HEALTHCHECK) is one the built executable accepts: its
// `--help` names that command path, and every option given is one of its options.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { OVERLAYS, render } from './kustomize.js';
import { ROOT, readText } from './repo.js';

const run = promisify(execFile);
const BIN = path.join(ROOT, 'dist/main/bin.js');

interface Use {
  where: string;
  args: string[];
}

function uses(): Use[] {
  const out: Use[] = [];
  for (const dir of OVERLAYS)
    for (const o of render(dir)) {
      const pod =
        o.kind === 'Deployment'
          ? o.spec.template.spec
          : o.kind === 'CronJob'
            ? o.spec.jobTemplate.spec.template.spec
            : undefined;
      for (const c of pod?.containers ?? [])
        if (/(^|\/)claude-flow-novice:/.test(c.image))
          out.push({ where: `${dir} ${o.metadata.name}`, args: c.args });
    }
  const compose = YAML.parse(readText('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { image: string; command?: string[] }>;
  };
  for (const [name, s] of Object.entries(compose.services))
    if (s.image.startsWith('claude-flow-novice:'))
      for (const arg of s.command!.join(' ') === '${CFN_APP_COMMAND:-start}'
        ? [['start'], ['serve']]
        : [s.command!])
        out.push({ where: `compose ${name}`, args: arg });
  const { apps } = createRequire(import.meta.url)(path.join(ROOT, 'ecosystem.config.cjs')) as {
    apps: { name: string; args: string }[];
  };
  for (const a of apps) out.push({ where: `pm2 ${a.name}`, args: a.args.split(' ') });
  const dockerfile = readText('Dockerfile').replace(/\\\n/g, ' ');
  out.push({ where: 'Dockerfile CMD', args: JSON.parse(/^CMD (.*)$/m.exec(dockerfile)![1]!) });
  const hc = /bin\.js (health [^>|]*)/.exec(dockerfile)![1]!.trim();
  out.push({ where: 'Dockerfile HEALTHCHECK', args: hc.replace(/"/g, '').split(/\s+/) });
  return out;
}

/** The command path of a command line: its words up to the first option, less arguments. */
function commandPath(args: string[]): string[] {
  const end = args.findIndex((a) => a.startsWith('-'));
  return args.slice(0, end < 0 ? args.length : end).filter((a) => a !== 'latest');
}

/** The `--help` of a command path: its usage line and its option flags. */
async function helpOf(words: string[]): Promise<{ usage: string; options: string[] }> {
  const { stdout } = await run(process.execPath, [BIN, ...words, '--help'], { cwd: ROOT });
  const usage = /^Usage: (.*)$/m.exec(stdout)?.[1] ?? '';
  const options = [...stdout.matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!);
  return { usage, options };
}

describe('cfn command lines in the shipped files', () => {
  const all = uses();

  it('are collected from every form', () => {
    const where = all.map((u) => u.where.split(' ')[0]);
    for (const form of ['deploy/k8s/overlays/production', 'compose', 'pm2', 'Dockerfile'])
      expect(where).toContain(form);
    expect(all.length).toBeGreaterThan(20);
  });

  it('are commands and options of the built cfn', async () => {
    const unique = [...new Map(all.map((u) => [u.args.join(' '), u])).values()];
    const problems: string[] = [];
    // One at a time: each is a node process loading the CLI.
    for (const { where, args } of unique) {
      const words = commandPath(args);
      const { usage, options } = await helpOf(words);
      if (!usage.startsWith(`cfn ${words.join(' ')} `))
        problems.push(`${where}: ${args.join(' ')} (usage: ${usage})`);
      for (const a of args.filter((x) => x.startsWith('--')))
        if (!options.includes(a.split('=')[0]!)) problems.push(`${where}: option ${a}`);
    }
    expect(problems).toEqual([]);
  });

  it('would report a misspelt subcommand or option (the check is not a no-op)', async () => {
    const bad = await helpOf(['backup', 'verfy']);
    expect(bad.usage.startsWith('cfn backup verfy ')).toBe(false);
    const good = await helpOf(['backup', 'create']);
    expect(good.usage.startsWith('cfn backup create ')).toBe(true);
    expect(good.options).toContain('--type');
    expect(good.options).not.toContain('--kind');
  });
});
