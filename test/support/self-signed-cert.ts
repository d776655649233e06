// A throwaway self-signed certificate made with the real openssl, for a test's own TLS servers.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** Writes `key` and `cert` (PEM) into `dir` for the subject `/CN=<cn>`, valid one day. */
export function makeSelfSignedCert(
  dir: string,
  options: { cn: string; subjectAltName?: string; key?: string; cert?: string },
): { key: string; cert: string } {
  const key = path.join(dir, options.key ?? 'key.pem');
  const cert = path.join(dir, options.cert ?? 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${options.cn}`,
      ...(options.subjectAltName ? ['-addext', `subjectAltName=${options.subjectAltName}`] : []),
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'pipe' },
  );
  return { key, cert };
}
