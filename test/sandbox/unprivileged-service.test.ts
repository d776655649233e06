// A service that does not run as root gets the sandbox through a user namespace instead of a uid
// drop: the built adapter, run by a process of an ordinary user (65534 when these tests run as
// root, the tests' own user otherwise), confines as well, and no user namespace can be made inside.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bwrapPath, SANDBOX_ID } from '../support/sandbox.js';

const ADAPTER = fileURLToPath(
  new URL('../../dist/adapters/sandbox/bwrap-sandbox.js', import.meta.url),
);
const SECRET = `cfn-secret-${randomBytes(12).toString('hex')}`;
let base: string;
let server: http.Server;
let port: number;

beforeAll(async () => {
  if (!fs.existsSync(ADAPTER))
    throw new Error(`${ADAPTER} is missing: run \`npm run build\` (npm test does it).`);
  base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-unprivileged-')));
  fs.mkdirSync(path.join(base, 'ws'));
  fs.writeFileSync(path.join(base, 'secret.txt'), SECRET, { mode: 0o644 });
  if (process.getuid?.() === 0) fs.chownSync(base, SANDBOX_ID, SANDBOX_ID);
  if (process.getuid?.() === 0) fs.chownSync(path.join(base, 'ws'), SANDBOX_ID, SANDBOX_ID);
  server = http.createServer((_req, res) => res.end('reached-the-host'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  fs.rmSync(base, { recursive: true, force: true });
});

/** Runs `commands` in the sandbox from a process of an ordinary user; their outputs, in order. */
function runAsOrdinaryUser(
  commands: string[],
): Promise<Array<{ exitCode: number; output: string }>> {
  const script = `
    import { createBwrapSandbox, selfTestSandbox } from ${JSON.stringify(ADAPTER)};
    const support = ${JSON.stringify(path.join(base, 'support'))};
    const sandbox = await createBwrapSandbox({ bwrap: ${JSON.stringify(bwrapPath())}, supportDir: support });
    await selfTestSandbox(sandbox, support);
    const results = [];
    for (const command of ${JSON.stringify(commands)}) {
      const r = await sandbox.run(command, { workspace: ${JSON.stringify(path.join(base, 'ws'))}, env: {}, timeoutMs: 20000, maxOutputBytes: 65536, network: false });
      results.push({ exitCode: r.exitCode, output: r.output });
    }
    process.stdout.write(JSON.stringify(results));
  `;
  const drop =
    process.getuid?.() === 0
      ? ['setpriv', `--reuid=${SANDBOX_ID}`, `--regid=${SANDBOX_ID}`, '--clear-groups', '--']
      : [];
  const argv = [...drop, process.execPath, '--input-type=module', '-e', script];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', CFN_BOOTSTRAP_ADMIN_KEY: SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as Array<{ exitCode: number; output: string }>);
      else reject(new Error(`the ordinary user's process failed (${code}): ${err}`));
    });
  });
}

it('confines commands of a service that is not root, through a user namespace', async () => {
  const [who, environ, secret, network, nested, write] = await runAsOrdinaryUser([
    'id -un; id -u',
    // PID 1 is bwrap, which the service (holding the secret) started: its environment is the sandbox's.
    'tr "\\0" "\\n" < /proc/1/environ; ls /proc | grep -c "^[0-9]"',
    `cat ${base}/secret.txt || echo refused`,
    `curl -sS --max-time 5 http://127.0.0.1:${port}/ || echo refused`,
    'unshare -U true || echo refused',
    'touch made-inside && echo wrote',
  ]);
  expect(who).toEqual({ exitCode: 0, output: 'sandbox\n1000\n' });
  expect(environ!.output).not.toContain(SECRET);
  expect(environ!.output).toMatch(/HOME=\/home\/sandbox\n/);
  expect(secret!.output).toMatch(/No such file or directory\nrefused\n$/);
  expect(network!.output).not.toContain('reached-the-host');
  expect(network!.output).toMatch(/refused\n$/);
  expect(nested!.output).toMatch(/refused\n$/);
  expect(write).toEqual({ exitCode: 0, output: 'wrote\n' });
  expect(fs.existsSync(path.join(base, 'ws', 'made-inside'))).toBe(true);
});
