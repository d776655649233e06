// Every shell script of the project passes shellcheck (the real tool, installed by
// scripts/install-test-tools.sh): the CI entry point, the scripts under scripts/ and those of the
// container tests (test/containers/, with the stand-ins' entrypoints).
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { REPO, run } from '../support/monitoring-stack.js';

const scripts = [
  '.ci/run',
  ...fs
    .readdirSync(path.join(REPO, 'scripts'))
    .filter((f) => f.endsWith('.sh'))
    .map((f) => `scripts/${f}`),
  ...['test/containers', 'test/containers/stand-ins'].flatMap((dir) =>
    fs
      .readdirSync(path.join(REPO, dir))
      .filter((f) => f.endsWith('.sh'))
      .map((f) => `${dir}/${f}`),
  ),
];

it('finds the scripts to check', () => {
  expect(scripts).toContain('scripts/install-test-tools.sh');
  expect(scripts).toContain('test/containers/images.sh');
  expect(scripts).toContain('test/containers/stand-ins/postgres-entrypoint.sh');
});

it.each(scripts)('shellcheck accepts %s', (script) => {
  const r = run('shellcheck', ['--severity=style', path.join(REPO, script)]);
  expect(r.code, r.out).toBe(0);
});
