// The sandbox suite: every way out an agent command (or a command validator) might try, run for
// real in the bubblewrap sandbox through a workspace as the engine opens it, and each must fail.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFsWorkspace } from '../../src/adapters/workspace/fs-workspace.js';
import type { CommandSandbox } from '../../src/ports/sandbox.js';
import type { CommandResult, Workspace } from '../../src/ports/workspace.js';
import { createTestSandbox, signalFifo, waitUntilNamespaceEmpty } from '../support/sandbox.js';

const SECRET = `cfn-secret-${randomBytes(12).toString('hex')}`;

let base: string;
let sandbox: CommandSandbox;
let wsA: Workspace;
let wsB: Workspace;
let secretFile: string;
let dataDir: string;
/** Stands in for the service: a process whose environment holds the secret (an admin key). */
let service: ChildProcess;
let server: http.Server;
let serverUrl: string;
let requestsServed = 0;

beforeAll(async () => {
  base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-escape-')));
  secretFile = path.join(base, 'secret.txt');
  fs.writeFileSync(secretFile, SECRET);
  dataDir = path.join(base, 'data');
  fs.mkdirSync(path.join(dataDir, 'pglite'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'pglite', 'PG_VERSION'), SECRET);
  sandbox = await createTestSandbox(path.join(dataDir, 'sandbox'));
  wsA = await createFsWorkspace(path.join(dataDir, 'workspaces', 'a'), { sandbox });
  wsB = await createFsWorkspace(path.join(dataDir, 'workspaces', 'b'), { sandbox });
  await wsB.writeFile('private.txt', SECRET);
  service = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], {
    env: { CFN_BOOTSTRAP_ADMIN_KEY: SECRET, ANTHROPIC_API_KEY: SECRET },
    stdio: 'ignore',
  });
  await new Promise((resolve) => service.once('spawn', resolve));
  // The host can read it: the sandbox must not.
  expect(fs.readFileSync(`/proc/${service.pid}/environ`, 'utf8')).toContain(SECRET);
  server = http.createServer((_req, res) => {
    requestsServed += 1;
    res.end('reached-the-host');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  service?.kill('SIGKILL');
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  fs.rmSync(base, { recursive: true, force: true });
});

const run = (ws: Workspace, command: string): Promise<CommandResult> =>
  ws.runCommand(command, { timeoutMs: 20_000 });

/** The command ran to its end (exit 0) and nothing it printed holds the secret. */
async function confined(command: string, ws = wsA): Promise<string> {
  const result = await run(ws, command);
  expect(result.output).not.toContain(SECRET);
  expect(result, result.output).toMatchObject({ exitCode: 0, timedOut: false });
  return result.output;
}

describe('the service and its environment', () => {
  it('cannot read the environment of the service or of the test process through /proc', async () => {
    for (const pid of [service.pid, process.pid]) {
      const out = await confined(`cat /proc/${pid}/environ || echo refused`);
      expect(out).toMatch(/No such file or directory\nrefused\n$/);
    }
    // PID 1 is the sandbox's own init, started from the sandbox's environment.
    await confined('tr "\\0" "\\n" < /proc/1/environ || true');
  });

  it('sees only its own processes in /proc', async () => {
    const out = await confined('for p in /proc/[0-9]*; do echo "${p#/proc/} $(cat $p/comm)"; done');
    const processes = out.trim().split('\n');
    expect(processes.length).toBeLessThanOrEqual(4);
    for (const line of processes) expect(line).toMatch(/^\d{1,2} (bwrap|sh|cat)$/);
  });

  it('runs as an unprivileged user with no capabilities', async () => {
    const out = await confined('id -u; grep -E "^Cap(Eff|Prm|Amb):" /proc/self/status');
    expect(out.split('\n')[0]).not.toBe('0');
    expect(out).toMatch(/CapPrm:\s+0+\nCapEff:\s+0+\nCapAmb:\s+0+\n$/);
  });
});

describe('files outside the workspace', () => {
  it.each([
    ['a secret file of the host', () => secretFile],
    ["the service's data directory", () => path.join(dataDir, 'pglite', 'PG_VERSION')],
    ['/etc/shadow', () => '/etc/shadow'],
    ['/root', () => '/root/.bashrc'],
  ])('cannot read %s', async (_what, file) => {
    const out = await confined(`cat ${file()} || echo refused`);
    expect(out).toMatch(/refused\n$/);
  });

  it('sees no host directory but the system ones and the path to its workspace', async () => {
    const out = await confined('ls -a /; ls /home; ls /etc | tr "\\n" " "');
    for (const hidden of ['work', 'root', 'opt', 'srv', 'boot', 'mnt', '.dockerenv'])
      expect(out.split('\n')).not.toContain(hidden);
    expect(out).toContain('\nsandbox\n'); // /home holds the sandbox's HOME only
    expect(out).not.toMatch(/\bshadow\b|\bsudoers\b|\bssh\b/);
    expect(await confined(`ls ${path.dirname(dataDir)}`)).toBe('data\n');
  });

  it("cannot reach another swarm's workspace beside its own", async () => {
    const out = await confined(
      `ls ..; cat ../b/private.txt || echo refused-relative; cat ${wsB.root}/private.txt || echo refused-absolute; touch ${wsB.root}/pwned || echo refused-write`,
    );
    expect(out).toMatch(/^a\n/);
    expect(out).toContain('refused-relative\n');
    expect(out).toContain('refused-absolute\n');
    expect(out).toContain('refused-write\n');
    expect(fs.existsSync(path.join(wsB.root, 'pwned'))).toBe(false);
  });

  it('cannot follow a symbolic link in the workspace to the host', async () => {
    fs.symlinkSync(secretFile, path.join(wsA.root, 'to-secret'));
    fs.symlinkSync('/', path.join(wsA.root, 'to-root'));
    fs.symlinkSync(path.join(wsB.root, 'private.txt'), path.join(wsA.root, 'to-b'));
    const out = await confined(
      'cat to-secret || echo refused-secret; cat to-b || echo refused-b; ls -a to-root/; ' +
        `ln -s /proc/${service.pid}/environ mine && (cat mine || echo refused-own-link)`,
    );
    expect(out).toContain('refused-secret\n');
    expect(out).toContain('refused-b\n');
    expect(out).toContain('refused-own-link\n');
    expect(out.split('\n')).not.toContain('work');
  });
});

describe('interpreters run, and stay confined', () => {
  it('python3 -c', async () => {
    const out = await confined(
      `python3 -u -c "import os; print('python-ran', sorted(os.environ)); print(open('${secretFile}').read())" || echo refused`,
    );
    expect(out).toMatch(/^python-ran \[/);
    expect(out).toMatch(/FileNotFoundError[\s\S]*refused\n$/);
  });

  it('node -e', async () => {
    const out = await confined(
      `node -e "console.log('node-ran'); console.log(require('fs').readFileSync('/proc/${service.pid}/environ', 'utf8'))" || echo refused`,
    );
    expect(out).toMatch(/^node-ran\n[\s\S]*ENOENT[\s\S]*refused\n$/);
  });

  it('git -c alias.x=!…', async () => {
    const out = await confined(
      `git -c 'alias.x=!echo alias-ran; cat ${secretFile} /proc/${service.pid}/environ; echo still-here' x || true`,
    );
    expect(out).toMatch(/^alias-ran\n/);
    expect(out).toContain('still-here\n');
  });
});

describe('writing outside the workspace', () => {
  it('cannot write system directories, and its /tmp is its own', async () => {
    const name = `host-file-${randomBytes(6).toString('hex')}`;
    const out = await confined(
      `touch /usr/x || echo refused-usr; echo x >> /etc/passwd || echo refused-etc; touch /tmp/${name} && echo wrote-tmp; touch ${base}/outside || echo refused-outside`,
    );
    expect(out).toContain('refused-usr\n');
    expect(out).toContain('refused-etc\n');
    expect(out).toContain('wrote-tmp\n');
    expect(out).toContain('refused-outside\n');
    expect(fs.existsSync(path.join('/tmp', name))).toBe(false);
    expect(fs.existsSync('/usr/x')).toBe(false);
    expect(fs.existsSync(path.join(base, 'outside'))).toBe(false);
  });
});

describe('the network', () => {
  const clients = () => [
    `curl -sS --max-time 5 ${serverUrl}`,
    `node -e "fetch('${serverUrl}').then((r) => r.text()).then(console.log)"`,
    `python3 -c "import urllib.request; print(urllib.request.urlopen('${serverUrl}', timeout=5).read().decode())"`,
  ];

  it.each([0, 1, 2])(
    'is out of reach by default (client %i: curl, node fetch, python urllib)',
    async (i) => {
      const before = requestsServed;
      const result = await run(wsA, clients()[i]!);
      expect(result.exitCode).not.toBe(0);
      expect(result.output).not.toContain('reached-the-host');
      expect(requestsServed).toBe(before);
    },
  );

  it('is reached by every client when the swarm is allowed the network', async () => {
    const networked = await createFsWorkspace(wsA.root, { sandbox, network: true });
    for (const client of clients()) {
      const result = await run(networked, client);
      expect(result, client).toMatchObject({ exitCode: 0 });
      expect(result.output).toContain('reached-the-host');
    }
  });
});

describe('processes left behind', () => {
  it('are killed with the sandbox when the command ends', async () => {
    const fifo = signalFifo(sandbox, wsA.root);
    const running = run(
      wsA,
      `(setsid sleep 300 >/dev/null 2>&1 &); nohup sleep 301 >/dev/null 2>&1 & readlink /proc/self/ns/pid > ${fifo.name}; echo left`,
    );
    const ns = await fifo.read();
    expect((await running).output).toBe('left\n');
    await waitUntilNamespaceEmpty(ns);
  });
});
