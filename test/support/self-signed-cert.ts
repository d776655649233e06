// A throwaway self-signed certificate made with the real openssl, for a test's own TLS servers
// and for certificate checks: valid one day by default, or `days`, or between given dates.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface SelfSignedCertOptions {
  cn: string;
  subjectAltName?: string;
  key?: string;
  cert?: string;
  /** Valid from now for this many days (default 1). */
  days?: number;
  /**
   * Explicit dates, in the past or the future (an expired or a not-yet-valid certificate):
   * OpenSSL 3.0's `req` cannot backdate, so these are signed by `openssl ca -selfsign`.
   */
  notBefore?: Date;
  notAfter?: Date;
}

/** YYYYMMDDHHMMSSZ, the form `openssl ca -startdate/-enddate` takes. */
const asn1Time = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/** Writes `key` and `cert` (PEM) into `dir` for the subject `/CN=<cn>`. */
export function makeSelfSignedCert(
  dir: string,
  options: SelfSignedCertOptions,
): { key: string; cert: string } {
  const key = path.join(dir, options.key ?? 'key.pem');
  const cert = path.join(dir, options.cert ?? 'cert.pem');
  const san = options.subjectAltName ? ['-addext', `subjectAltName=${options.subjectAltName}`] : [];
  if (!options.notBefore && !options.notAfter) {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        String(options.days ?? 1),
        '-subj',
        `/CN=${options.cn}`,
        ...san,
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'pipe' },
    );
    return { key, cert };
  }
  const notBefore = options.notBefore ?? new Date();
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 86_400_000);
  // A one-off CA database beside the files, removed afterwards.
  const ca = fs.mkdtempSync(path.join(dir, 'ca-'));
  fs.writeFileSync(path.join(ca, 'index.txt'), '');
  fs.writeFileSync(
    path.join(ca, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = dflt',
      '[dflt]',
      `database = ${path.join(ca, 'index.txt')}`,
      `new_certs_dir = ${ca}`,
      `serial = ${path.join(ca, 'serial')}`,
      'default_md = sha256',
      'policy = anything',
      'unique_subject = no',
      'copy_extensions = copy',
      '[anything]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  const csr = path.join(ca, 'req.csr');
  execFileSync(
    'openssl',
    [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${options.cn}`,
      ...san,
      '-keyout',
      key,
      '-out',
      csr,
    ],
    { stdio: 'pipe' },
  );
  execFileSync(
    'openssl',
    [
      'ca',
      '-batch',
      '-config',
      path.join(ca, 'ca.cnf'),
      '-selfsign',
      '-keyfile',
      key,
      '-in',
      csr,
      '-out',
      cert,
      '-startdate',
      asn1Time(notBefore),
      '-enddate',
      asn1Time(notAfter),
      '-create_serial',
      '-notext',
    ],
    { stdio: 'pipe' },
  );
  fs.rmSync(ca, { recursive: true, force: true });
  return { key, cert };
}
