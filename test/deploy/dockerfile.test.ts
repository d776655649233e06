// The Dockerfile's contract, read from the file itself: the base image is a build argument, the
// runtime stage runs as a non-root user with its data on a volume, the health check goes through
// `cfn health`, signals reach node through an exec-form entrypoint, and the build context holds
// only what the build copies.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, readText } from './repo.js';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const logical = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return logical
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l);
      return { op: (m?.[1] ?? l).toUpperCase(), args: m?.[2] ?? '' };
    });
}

const all = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const stages: Instruction[][] = [];
for (const i of all) {
  if (i.op === 'FROM') stages.push([]);
  stages.at(-1)?.push(i);
}
const runtime = stages.at(-1) ?? [];
const one = (op: string) => {
  const found = runtime.filter((i) => i.op === op);
  expect(found, `one ${op} in the runtime stage`).toHaveLength(1);
  return found[0]!.args;
};

describe('Dockerfile', () => {
  it('builds both stages from ARG NODE_IMAGE, defaulting to the official Node 24 slim image', () => {
    const arg = all.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE'));
    // Debian 12: its postgresql-client (pg_dump, psql) is 15, the PostgreSQL of every form.
    expect(arg?.args).toBe('NODE_IMAGE=node:24-bookworm-slim');
    expect(readText('docker-compose.yml')).toMatch(/image: postgres:15-bookworm/);
    expect(readText('deploy/terraform/modules/database/main.tf')).toMatch(/engine_version = "15"/);
    expect(all.indexOf(arg!)).toBeLessThan(all.findIndex((i) => i.op === 'FROM'));
    expect(stages).toHaveLength(2);
    expect(stages.map((s) => s[0]!.args)).toEqual([
      '${NODE_IMAGE} AS build',
      '${NODE_IMAGE} AS runtime',
    ]);
  });

  it('builds with dev dependencies and ships production dependencies and dist/ only', () => {
    const build = stages[0]!;
    expect(build.some((i) => i.op === 'RUN' && /npm run build/.test(i.args))).toBe(true);
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /npm ci --omit=dev/.test(r))).toBe(true);
    const fromBuild = runtime.filter((i) => i.op === 'COPY' && i.args.includes('--from='));
    expect(fromBuild.map((i) => i.args)).toEqual(['--from=build /src/dist dist']);
    const copies = runtime.filter((i) => i.op === 'COPY' && !i.args.includes('--from='));
    expect(copies.map((i) => i.args)).toEqual(['package.json package-lock.json ./']);
  });

  it('runs as a numeric non-root user with CFN_DATA_DIR=/data on a volume', () => {
    const user = one('USER');
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    expect(one('VOLUME')).toBe('["/data"]');
    const env = runtime
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toMatch(/(^|\s)CFN_DATA_DIR=\/data(\s|$)/);
    expect(env).toMatch(/(^|\s)MALLOC_ARENA_MAX=2(\s|$)/);
    expect(env).toMatch(/(^|\s)NODE_ENV=production(\s|$)/);
  });

  it('checks health through `cfn health` on the service port', () => {
    const hc = one('HEALTHCHECK');
    expect(hc).toMatch(
      /CMD node \/app\/dist\/main\/bin\.js health --url "http:\/\/127\.0\.0\.1:\$\{PORT:-3000\}"/,
    );
    expect(hc).toMatch(/--interval=30s/); // the guide: /health every 30 seconds
  });

  it('delivers SIGTERM to node through an exec-form entrypoint', () => {
    expect(one('STOPSIGNAL')).toBe('SIGTERM');
    const entrypoint: unknown = JSON.parse(one('ENTRYPOINT'));
    expect(entrypoint).toEqual(['/usr/bin/tini', '--', 'node', '/app/dist/main/bin.js']);
    expect(JSON.parse(one('CMD'))).toEqual(['start']);
  });

  it('labels the image with OCI title, version, revision and source from build arguments', () => {
    const labels = runtime
      .filter((i) => i.op === 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const [key, value] of [
      ['title', '"claude-flow-novice"'],
      ['version', '"${VERSION}"'],
      ['revision', '"${VCS_REF}"'],
      ['source', '"${SOURCE_URL}"'],
    ])
      expect(labels).toContain(`org.opencontainers.image.${key}=${value}`);
    const args = runtime.filter((i) => i.op === 'ARG').map((i) => i.args.split('=')[0]);
    expect(args).toEqual(expect.arrayContaining(['VERSION', 'VCS_REF', 'SOURCE_URL']));
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(runtime.find((i) => i.op === 'ARG' && i.args.startsWith('VERSION='))?.args).toBe(
      `VERSION=${pkg.version}`,
    );
  });

  it('has a .dockerignore that allows exactly what the Dockerfile copies from the context', () => {
    const lines = fs
      .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    const allowed = lines
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = all
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const s of sources) {
      expect(allowed, `${s} is in the build context`).toContain(s.replace(/\/$/, ''));
      expect(fs.existsSync(path.join(ROOT, s)), `${s} exists`).toBe(true);
    }
  });
});
