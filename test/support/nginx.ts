// Runs a real nginx on the project's deploy/nginx/nginx.conf with only the deployment-specific
// parts rewritten: upstream servers, listen addresses, certificate and log paths (a self-signed
// certificate is made for the test). Nothing else of the configuration is changed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { makeSelfSignedCert } from './self-signed-cert.js';

export const NGINX_CONF = fileURLToPath(new URL('../../deploy/nginx/nginx.conf', import.meta.url));

export function nginxBinary(): string {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (fs.existsSync(p)) return p;
  throw new Error(
    'nginx is not installed: run scripts/install-test-tools.sh (Debian package nginx)',
  );
}

export interface RunningNginx {
  /** https://127.0.0.1:<port> */
  url: string;
  httpUrl: string;
  dir: string;
  /** The rendered configuration. */
  conf: string;
  accessLog(): Array<Record<string, unknown>>;
  /** Where the server block includes deny lists from (`blocklist.d/*.conf`). */
  blocklistDir: string;
  /** `nginx -s reload`, after the configuration has been tested; resolves once reloaded. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** The project's config with `upstreams` (host:port) and loopback listeners. */
export function renderNginxConf(
  source: string,
  o: { upstreams: string[]; httpsPort: number; httpPort: number; dir: string },
): string {
  const servers = o.upstreams
    .map((u) => `        server ${u} max_fails=3 fail_timeout=30s;`)
    .join('\n');
  const out = source
    .replace(/( {8}server app\d+:3000 [^\n]*\n)+/, `${servers}\n`)
    .replace('listen 443 ssl http2;', `listen 127.0.0.1:${o.httpsPort} ssl http2;`)
    .replace('listen 80;', `listen 127.0.0.1:${o.httpPort};`)
    .replace('/etc/nginx/tls/tls.crt', path.join(o.dir, 'tls.crt'))
    .replace('/etc/nginx/tls/tls.key', path.join(o.dir, 'tls.key'))
    .replace('/var/log/nginx/claude-flow-access.log', path.join(o.dir, 'access.log'))
    .replace('/var/log/nginx/claude-flow-error.log', path.join(o.dir, 'error.log'))
    .replaceAll('/etc/nginx/blocklist.d/', `${path.join(o.dir, 'blocklist.d')}/`);
  for (const must of [
    ...o.upstreams,
    String(o.httpsPort),
    path.join(o.dir, 'tls.crt'),
    path.join(o.dir, 'blocklist.d'),
  ])
    if (!out.includes(must))
      throw new Error(`deploy/nginx/nginx.conf changed shape: ${must} not placed`);
  return out;
}

export async function startNginx(upstreams: string[]): Promise<RunningNginx> {
  const bin = nginxBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-nginx-'));
  makeSelfSignedCert(dir, {
    cn: 'localhost',
    subjectAltName: 'IP:127.0.0.1,DNS:localhost',
    key: 'tls.key',
    cert: 'tls.crt',
  });
  const [httpsPort, httpPort] = [await freePort(), await freePort()];
  const conf = renderNginxConf(fs.readFileSync(NGINX_CONF, 'utf8'), {
    upstreams,
    httpsPort,
    httpPort,
    dir,
  });
  fs.mkdirSync(path.join(dir, 'blocklist.d'));
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  const globals = `pid ${path.join(dir, 'nginx.pid')}; error_log ${path.join(dir, 'error.log')} warn;`;
  execFileSync(bin, ['-t', '-q', '-p', dir, '-c', confFile, '-g', globals], { stdio: 'pipe' });
  const child: ChildProcess = spawn(
    bin,
    ['-p', dir, '-c', confFile, '-g', `daemon off; ${globals}`],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const until = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(httpsPort, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > until)
      throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `https://127.0.0.1:${httpsPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    dir,
    conf,
    blocklistDir: path.join(dir, 'blocklist.d'),
    async reload() {
      execFileSync(bin, ['-t', '-q', '-p', dir, '-c', confFile, '-g', globals], { stdio: 'pipe' });
      child.kill('SIGHUP');
      // The master starts new workers with the new configuration and retires the old ones.
      await new Promise((r) => setTimeout(r, 500));
    },
    accessLog: () =>
      fs
        .readFileSync(path.join(dir, 'access.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
