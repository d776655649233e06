// Reads an X.509 certificate from a PEM/DER file (the first of a bundle) or from a TLS server's
// handshake, and judges its validity window. Used by `cfn cert check` and the
// tls_cert_expiry_seconds metric. A server's untrusted certificate is still read: the point is
// its dates; whether it verified is reported beside them.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { describeCertTarget, type CertTarget } from '../domain/tls-target.js';

export interface CertificateInfo {
  /** The target as written (file path or host:port). */
  readonly target: string;
  readonly source: 'file' | 'tls';
  readonly subject: string;
  readonly issuer: string;
  /** DNS:…, IP Address:… as in the certificate's subjectAltName. */
  readonly subjectAltNames: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  /**
   * Certificates in the file (a bundle: leaf first); for a server, its chain as Node saw it (what
   * it sent, completed by a trusted root when one is known).
   */
  readonly chainLength: number;
  /**
   * A server's chain and host name checked against Node's CA store (its Mozilla bundle plus
   * NODE_EXTRA_CA_CERTS; the system store with --use-openssl-ca); null for a file.
   */
  readonly verified: boolean | null;
  /** Why it did not verify (OpenSSL's code, e.g. DEPTH_ZERO_SELF_SIGNED_CERT). */
  readonly verifyError: string | null;
}

export type UnreadableReason =
  | 'not_found'
  | 'permission_denied'
  | 'not_a_certificate'
  | 'refused'
  | 'timeout'
  | 'host_not_found'
  | 'handshake_failed'
  | 'io';

/** No certificate could be read: `message` says what happened and what to do next. */
export class CertificateUnreadableError extends Error {
  constructor(
    readonly target: string,
    readonly reason: UnreadableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CertificateUnreadableError';
  }
}

export interface ReadCertificateOptions {
  /** Longest wait for a server's handshake. */
  timeoutMs?: number;
}

export type Verdict = 'valid' | 'expiring' | 'expired' | 'not_yet_valid';

export interface Judgement {
  readonly verdict: Verdict;
  /** Seconds until notAfter (negative once expired). */
  readonly secondsLeft: number;
  /** Whole days until notAfter, rounded towards zero (negative once expired). */
  readonly daysLeft: number;
}

/** valid: not expiring within `days`; expiring: within them; expired; or not yet valid. */
export function judge(cert: CertificateInfo, days: number, now: Date = new Date()): Judgement {
  const secondsLeft = Math.round((cert.notAfter.getTime() - now.getTime()) / 1000);
  // Whole days, towards zero: 59.9 days left is 59; expired 5.1 days ago is -5.
  const daysLeft = Math.trunc(secondsLeft / 86_400) || 0;
  const verdict: Verdict =
    secondsLeft <= 0
      ? 'expired'
      : now < cert.notBefore
        ? 'not_yet_valid'
        : secondsLeft < days * 86_400
          ? 'expiring'
          : 'valid';
  return { verdict, secondsLeft, daysLeft };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function infoOf(
  x: X509Certificate,
  target: string,
  source: 'file' | 'tls',
  chainLength: number,
  verified: boolean | null,
  verifyError: string | null,
): CertificateInfo {
  return {
    target,
    source,
    subject: x.subject.split('\n').join(', '),
    issuer: x.issuer.split('\n').join(', '),
    subjectAltNames: x.subjectAltName ? x.subjectAltName.split(/,\s*/) : [],
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    serialNumber: x.serialNumber,
    fingerprint256: x.fingerprint256,
    chainLength,
    verified,
    verifyError,
  };
}

async function readFile(file: string): Promise<CertificateInfo> {
  let data: Buffer;
  try {
    data = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new CertificateUnreadableError(
        file,
        'not_found',
        `no such file: ${file}. Check the path (nginx reads /etc/nginx/tls/tls.crt; certbot keeps /etc/letsencrypt/live/<domain>/fullchain.pem), or give host:port to check a server.`,
        { cause: err },
      );
    if (code === 'EACCES' || code === 'EPERM')
      throw new CertificateUnreadableError(
        file,
        'permission_denied',
        `cannot read ${file}: permission denied. Run as a user who may read it (e.g. with sudo).`,
        { cause: err },
      );
    throw new CertificateUnreadableError(
      file,
      'io',
      `cannot read ${file}: ${(err as Error).message}.`,
      { cause: err },
    );
  }
  const blocks = data.toString('latin1').match(PEM_CERT) ?? [];
  try {
    // PEM (the first block of a bundle is the server's own certificate), else DER.
    const leaf = new X509Certificate(blocks[0] ?? data);
    return infoOf(leaf, file, 'file', Math.max(blocks.length, 1), null, null);
  } catch (err) {
    throw new CertificateUnreadableError(
      file,
      'not_a_certificate',
      `${file} holds no readable certificate (${blocks.length ? 'a damaged BEGIN CERTIFICATE block' : 'no PEM BEGIN CERTIFICATE block, and not DER'}). Point at the certificate or its chain (tls.crt, fullchain.pem), not the private key.`,
      { cause: err },
    );
  }
}

function readServer(host: string, port: number, timeoutMs: number): Promise<CertificateInfo> {
  const target = describeCertTarget({ kind: 'tls', host, port });
  return new Promise((resolve, reject) => {
    const fail = (reason: UnreadableReason, message: string, cause?: unknown) => {
      socket.destroy();
      reject(new CertificateUnreadableError(target, reason, message, { cause }));
    };
    const socket = tls.connect({
      host,
      port,
      // SNI carries a name, never an address.
      ...(net.isIP(host) ? {} : { servername: host }),
      // Read the certificate whatever its trust; `authorized` says whether it verified.
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      const authorized = socket.authorized;
      const why = socket.authorizationError;
      let info: CertificateInfo | undefined;
      try {
        // One call for the whole chain (getPeerX509Certificate first would leave this empty).
        const peer = socket.getPeerCertificate(true);
        let chain = 0;
        for (
          let c: tls.DetailedPeerCertificate | undefined = peer;
          c?.raw && chain < 20;
          c = c.issuerCertificate === c ? undefined : c.issuerCertificate
        )
          chain += 1;
        if (peer.raw)
          info = infoOf(
            new X509Certificate(peer.raw),
            target,
            'tls',
            chain,
            authorized,
            authorized ? null : why ? String(why) : 'unknown',
          );
      } catch (err) {
        // In an event handler a throw would be uncaught: in the service, a crash on a scrape.
        return fail('handshake_failed', `${target} sent a certificate that cannot be parsed.`, err);
      }
      socket.end();
      if (!info) return fail('handshake_failed', `${target} sent no certificate.`);
      resolve(info);
    });
    socket.once('timeout', () =>
      fail(
        'timeout',
        `no TLS handshake with ${target} within ${timeoutMs} ms: check that the host is up and that no firewall drops the port (or raise --timeout).`,
      ),
    );
    // `on`, not `once`: a reset after the answer must not be an unhandled error.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED')
        return fail(
          'refused',
          `connection refused by ${target}: nothing listens there. Check the host and port, and that the server (nginx) is running.`,
          err,
        );
      if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN')
        return fail(
          'host_not_found',
          `host ${host} not found (DNS). Check the spelling, or give an IP address.`,
          err,
        );
      if (err.code === 'ETIMEDOUT')
        return fail(
          'timeout',
          `connecting to ${target} timed out: check the host and any firewall.`,
          err,
        );
      fail(
        'handshake_failed',
        `${target} did not complete a TLS handshake (${err.code ?? err.message}): is it a TLS port? Protocols that start in plain text and upgrade (STARTTLS: SMTP, PostgreSQL) are not supported.`,
        err,
      );
    });
  });
}

export function readCertificate(
  target: CertTarget,
  options: ReadCertificateOptions = {},
): Promise<CertificateInfo> {
  return target.kind === 'file'
    ? readFile(target.path)
    : readServer(target.host, target.port, options.timeoutMs ?? 10_000);
}
