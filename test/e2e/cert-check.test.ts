// Certificates as an operator meets them: `cfn cert check` on real openssl-made certificates
// (valid 60 days, 10 days, expired, not yet valid), on a TLS server of the test's own, on a
// refused port and on files that are not certificates; then the running service's
// tls_cert_expiry_seconds and tls_cert_check_errors_total with CFN_TLS_WATCH, and a bad
// CFN_TLS_WATCH refusing start-up.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type RunningCli } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { makeSelfSignedCert } from '../support/self-signed-cert.js';

const DAY = 86_400_000;
let dir: string;
let sixty: { key: string; cert: string };
let ten: { key: string; cert: string };
let expired: { key: string; cert: string };
let future: { key: string; cert: string };
let server: tls.Server;
let serverPort: number;
let refusedPort: number;
const running: RunningCli[] = [];

interface CertJson {
  target: string;
  status: string;
  exitCode: number;
  windowDays?: number;
  daysLeft?: number;
  secondsLeft?: number;
  source?: string;
  subject?: string;
  issuer?: string;
  subjectAltNames?: string[];
  notBefore?: string;
  notAfter?: string;
  chainLength?: number;
  verified?: boolean | null;
  verifyError?: string | null;
  error?: { reason: string; message: string };
}

const json = (stdout: string) => JSON.parse(stdout) as CertJson[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-cert-'));
  sixty = makeSelfSignedCert(dir, {
    cn: 'sixty.test',
    subjectAltName: 'DNS:sixty.test,DNS:www.sixty.test',
    days: 60,
    key: 'sixty.key',
    cert: 'sixty.crt',
  });
  ten = makeSelfSignedCert(dir, {
    cn: 'localhost',
    subjectAltName: 'DNS:localhost,IP:127.0.0.1',
    days: 10,
    key: 'ten.key',
    cert: 'ten.crt',
  });
  expired = makeSelfSignedCert(dir, {
    cn: 'expired.test',
    notBefore: new Date(Date.now() - 100 * DAY),
    notAfter: new Date(Date.now() - 5 * DAY),
    key: 'expired.key',
    cert: 'expired.crt',
  });
  future = makeSelfSignedCert(dir, {
    cn: 'future.test',
    notBefore: new Date(Date.now() + 3 * DAY),
    notAfter: new Date(Date.now() + 300 * DAY),
    key: 'future.key',
    cert: 'future.crt',
  });
  // A bundle as certbot writes fullchain.pem: the server's certificate first, then another.
  fs.writeFileSync(
    path.join(dir, 'fullchain.pem'),
    fs.readFileSync(ten.cert, 'utf8') + fs.readFileSync(sixty.cert, 'utf8'),
  );
  fs.writeFileSync(path.join(dir, 'garbage.pem'), 'hello, not a certificate\n');

  // The test's own TLS server, with the 10-day certificate.
  serverPort = await freePort();
  server = tls.createServer(
    { key: fs.readFileSync(ten.key), cert: fs.readFileSync(ten.cert) },
    (socket) => socket.end(),
  );
  await new Promise<void>((resolve) => server.listen(serverPort, '127.0.0.1', resolve));
  refusedPort = await freePort(); // closed again: nothing listens there
});

afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  await new Promise((resolve) => server?.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('cfn cert check, a file', () => {
  it('exits 0 for a certificate valid 60 days and reports its fields', async () => {
    const r = await runCli(['cert', 'check', sixty.cert, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [c] = json(r.stdout);
    expect(c).toMatchObject({
      target: sixty.cert,
      status: 'valid',
      exitCode: 0,
      windowDays: 30,
      source: 'file',
      subject: 'CN=sixty.test',
      issuer: 'CN=sixty.test',
      subjectAltNames: ['DNS:sixty.test', 'DNS:www.sixty.test'],
      chainLength: 1,
      verified: null,
    });
    expect(c!.daysLeft).toBe(59); // 60 days less the seconds since it was made, rounded down
    expect(Date.parse(c!.notAfter!) - Date.parse(c!.notBefore!)).toBe(60 * DAY);

    const text = await runCli(['cert', 'check', sixty.cert]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/: OK: valid for 59 more days/);
    expect(text.stdout).toMatch(/^ {2}SANs\s+DNS:sixty.test, DNS:www.sixty.test$/m);
  });

  it('exits 1 for one valid 10 days (window 30), and 0 with --days 7', async () => {
    const r = await runCli(['cert', 'check', ten.cert, '--json']);
    expect(r.code).toBe(1);
    expect(json(r.stdout)[0]).toMatchObject({ status: 'expiring', daysLeft: 9, exitCode: 1 });
    const text = await runCli(['cert', 'check', ten.cert]);
    expect(text.stdout).toMatch(/EXPIRING: 9 days left .* within the 30-day window: renew it/);
    expect((await runCli(['cert', 'check', ten.cert, '--days', '7'])).code).toBe(0);
    // The 60-day one is expiring in a 90-day window.
    expect((await runCli(['cert', 'check', sixty.cert, '--days', '90'])).code).toBe(1);
  });

  it('exits 1 for an expired certificate and one not yet valid', async () => {
    const r = await runCli(['cert', 'check', expired.cert, future.cert, '--json']);
    expect(r.code).toBe(1);
    const [e, f] = json(r.stdout);
    expect(e).toMatchObject({ status: 'expired', daysLeft: -5, subject: 'CN=expired.test' });
    expect(e!.secondsLeft).toBeLessThan(-5 * 86_400 + 120);
    expect(f).toMatchObject({ status: 'not_yet_valid', subject: 'CN=future.test' });
    const text = await runCli(['cert', 'check', expired.cert]);
    expect(text.stdout).toMatch(/EXPIRED 5 days ago .*: renew it now/);
  });

  it('reads the first certificate of a bundle (fullchain.pem)', async () => {
    const r = await runCli(['cert', 'check', path.join(dir, 'fullchain.pem'), '--json']);
    expect(json(r.stdout)[0]).toMatchObject({
      subject: 'CN=localhost',
      chainLength: 2,
      status: 'expiring',
    });
  });

  it('exits 2 for no such file, a private key and a file of text, saying what to do', async () => {
    const missing = path.join(dir, 'nope.crt');
    const r = await runCli(['cert', 'check', missing, ten.key, path.join(dir, 'garbage.pem')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^cfn: .*nope\.crt: UNREADABLE: no such file: .*Check the path/);
    expect(lines[1]).toMatch(/ten\.key holds no readable certificate .* not the private key/);
    expect(lines[2]).toMatch(/garbage\.pem holds no readable certificate/);

    const j = await runCli(['cert', 'check', missing, '--json']);
    expect(j.code).toBe(2);
    expect(json(j.stdout)[0]).toMatchObject({
      target: missing,
      status: 'unreadable',
      exitCode: 2,
      error: { reason: 'not_found' },
    });
  });

  it('exits with the worst of several targets', async () => {
    const r = await runCli(['cert', 'check', sixty.cert, ten.cert, '--json']);
    expect(r.code).toBe(1);
    expect(json(r.stdout).map((c) => c.status)).toEqual(['valid', 'expiring']);
    const worst = await runCli(['cert', 'check', sixty.cert, ten.cert, path.join(dir, 'x.crt')]);
    expect(worst.code).toBe(2);
    expect(worst.stdout).toMatch(/OK: valid/);
    expect(worst.stdout).toMatch(/EXPIRING/);
  });
});

describe('cfn cert check, a server (host:port)', () => {
  it("reads a self-signed server's certificate with SNI, reporting it did not verify", async () => {
    const r = await runCli(['cert', 'check', `localhost:${serverPort}`, '--json']);
    expect(r.code, r.stderr).toBe(1); // 10 days left: expiring, whatever the trust
    expect(json(r.stdout)[0]).toMatchObject({
      target: `localhost:${serverPort}`,
      source: 'tls',
      status: 'expiring',
      subject: 'CN=localhost',
      subjectAltNames: ['DNS:localhost', 'IP Address:127.0.0.1'],
      verified: false,
      verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      chainLength: 1,
    });
    const text = await runCli(['cert', 'check', `127.0.0.1:${serverPort}`, '--days', '5']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ {2}verified\s+no \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/m);
  });

  it('reports verified when the certificate chains to a trusted CA and names the host', async () => {
    // NODE_EXTRA_CA_CERTS adds the self-signed certificate (CA:TRUE) to the trusted ones.
    const env = { NODE_EXTRA_CA_CERTS: ten.cert };
    const r = await runCli(['cert', 'check', `localhost:${serverPort}`, '--json'], { env });
    expect(json(r.stdout)[0]).toMatchObject({ verified: true, verifyError: null });
    // Trusted (fullchain.pem holds both), but not for this name: the host name is checked too.
    const port = await freePort();
    const misnamed = tls.createServer(
      { key: fs.readFileSync(sixty.key), cert: fs.readFileSync(sixty.cert) },
      (socket) => socket.end(),
    );
    await new Promise<void>((resolve) => misnamed.listen(port, '127.0.0.1', resolve));
    try {
      const other = await runCli(['cert', 'check', `localhost:${port}`, '--json'], {
        env: { NODE_EXTRA_CA_CERTS: path.join(dir, 'fullchain.pem') },
      });
      expect(json(other.stdout)[0]).toMatchObject({
        subject: 'CN=sixty.test',
        verified: false,
        verifyError: 'ERR_TLS_CERT_ALTNAME_INVALID',
      });
    } finally {
      await new Promise((resolve) => misnamed.close(resolve));
    }
  });

  it('sends the host name as SNI', async () => {
    const seen: string[] = [];
    const port = await freePort();
    const sni = tls.createServer(
      {
        key: fs.readFileSync(sixty.key),
        cert: fs.readFileSync(sixty.cert),
        SNICallback: (name, cb) => {
          seen.push(name);
          cb(
            null,
            tls.createSecureContext({
              key: fs.readFileSync(sixty.key),
              cert: fs.readFileSync(sixty.cert),
            }),
          );
        },
      },
      (s) => s.end(),
    );
    await new Promise<void>((resolve) => sni.listen(port, '127.0.0.1', resolve));
    try {
      const r = await runCli(['cert', 'check', `localhost:${port}`]);
      expect(r.code, r.stderr).toBe(0);
      expect(seen).toEqual(['localhost']);
    } finally {
      await new Promise((resolve) => sni.close(resolve));
    }
  });

  it('exits 2 on a refused port, saying nothing listens there', async () => {
    const r = await runCli(['cert', 'check', `127.0.0.1:${refusedPort}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `^cfn: 127\\.0\\.0\\.1:${refusedPort}: UNREADABLE: connection refused .* nothing listens there`,
      ),
    );
  });

  it('exits 2 when the port answers but not with TLS, and on a bad port number', async () => {
    const port = await freePort();
    const sockets: net.Socket[] = [];
    const plain = net.createServer((s) => {
      sockets.push(s);
      s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((resolve) => plain.listen(port, '127.0.0.1', resolve));
    try {
      const r = await runCli(['cert', 'check', `127.0.0.1:${port}`, 'localhost:99999', '--json']);
      expect(r.code).toBe(2);
      const [http, bad] = json(r.stdout);
      expect(http!.error).toMatchObject({ reason: 'handshake_failed' });
      expect(http!.error!.message).toMatch(
        /did not complete a TLS handshake .* is it a TLS port\?/,
      );
      expect(bad!.error).toMatchObject({ reason: 'bad_target' });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => plain.close(resolve));
    }
  });

  it('exits 2 when the server never answers the handshake, within --timeout', async () => {
    const port = await freePort();
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => void sockets.push(s)); // accepts, then says nothing
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const r = await runCli(['cert', 'check', `127.0.0.1:${port}`, '--timeout', '500']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/no TLS handshake with 127\.0\.0\.1:\d+ within 500 ms/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('the service watching certificates (CFN_TLS_WATCH)', () => {
  it('exports tls_cert_expiry_seconds per name, and an error count for one it cannot read', async () => {
    const cwd = fs.mkdtempSync(path.join(dir, 'svc-'));
    const r = spawnCli(['start'], {
      cwd,
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        CFN_TLS_WATCH: [
          `web=${sixty.cert}`,
          `old=${expired.cert}`,
          `api=localhost:${serverPort}`,
          `gone=127.0.0.1:${refusedPort}`,
        ].join(','),
      },
    });
    running.push(r);
    const listening = await r.waitForLog((l) => l.msg === 'listening');
    const text = await (await fetch(`${String(listening.url)}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    const now = Date.now() / 1000;
    const notAfter = (file: string) =>
      Date.parse(new X509Certificate(fs.readFileSync(file)).validTo) / 1000;
    expect(value('tls_cert_expiry_seconds{name="web"}')).toBeCloseTo(
      notAfter(sixty.cert) - now,
      -2,
    );
    expect(value('tls_cert_expiry_seconds{name="old"}')).toBeLessThan(-5 * 86_400 + 300);
    expect(value('tls_cert_expiry_seconds{name="api"}')).toBeGreaterThan(9 * 86_400);
    expect(value('tls_cert_expiry_seconds{name="api"}')).toBeLessThan(10 * 86_400);
    // The one that cannot be read has no expiry series, only errors.
    expect(value('tls_cert_expiry_seconds{name="gone"}')).toBeUndefined();
    expect(value('tls_cert_check_errors_total{name="gone"}')).toBe(1);
    for (const name of ['web', 'old', 'api'])
      expect(value(`tls_cert_check_errors_total{name="${name}"}`)).toBe(0);
    // Labels are the configured names, no others.
    const names = new Set([...text.matchAll(/^tls_cert_\w+\{name="([^"]+)"\}/gm)].map((m) => m[1]));
    expect([...names].sort()).toEqual(['api', 'gone', 'old', 'web']);
    await r.waitForLog(
      (l) => l.msg === 'watched certificate could not be read' && l.certificate === 'gone',
    );

    r.child.kill('SIGTERM');
    expect(await r.exited).toEqual({ code: 0, signal: null });
  }, 120_000);

  it.each([
    [`web=localhost:0`, /entry 1: expected a port between 1 and 65535/],
    [`a=${'x'}.pem,a=y.pem`, /entry 2: expected a name no other entry has/],
    ['web=', /entry 1: expected a file or host:port/],
    ['example.com:https', /entry 1: expected host:port/],
  ])(
    'CFN_TLS_WATCH=%s stops start-up with exit 1 and one line naming it',
    async (value, message) => {
      const cwd = fs.mkdtempSync(path.join(dir, 'bad-'));
      const r = await runCli(['start'], { cwd, env: { CFN_TLS_WATCH: value } });
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^cfn: Invalid environment variable CFN_TLS_WATCH: /);
      expect(lines[0]).toMatch(message);
    },
  );
});
