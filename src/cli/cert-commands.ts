// `cfn cert check`: a certificate's dates from a file or a TLS server, and a verdict as the exit
// code (0 valid beyond the window, 1 expiring, expired or not yet valid, 2 unreadable), so a cron
// job or a deploy script can act on it.
import { Option, type Command } from 'commander';
import { parseCertTarget } from '../domain/tls-target.js';
import {
  CertificateUnreadableError,
  judge,
  readCertificate,
  type CertificateInfo,
  type Judgement,
} from '../ops/certificate-check.js';
import { CliError } from './api-client.js';
import { jsonOption, positiveInt, resolveIo, type CliIoDeps } from './command-kit.js';

type Outcome =
  | { target: string; cert: CertificateInfo; judgement: Judgement; exitCode: 0 | 1 }
  | { target: string; error: { reason: string; message: string }; exitCode: 2 };

async function check(text: string, days: number, timeoutMs: number): Promise<Outcome> {
  const target = parseCertTarget(text);
  if ('error' in target)
    return {
      target: text,
      error: { reason: 'bad_target', message: `expected ${target.error}.` },
      exitCode: 2,
    };
  try {
    const cert = await readCertificate(target, { timeoutMs });
    const judgement = judge(cert, days);
    return { target: text, cert, judgement, exitCode: judgement.verdict === 'valid' ? 0 : 1 };
  } catch (err) {
    if (!(err instanceof CertificateUnreadableError)) throw err;
    return { target: text, error: { reason: err.reason, message: err.message }, exitCode: 2 };
  }
}

function jsonOf(o: Outcome, days: number) {
  if ('error' in o)
    return { target: o.target, status: 'unreadable', exitCode: o.exitCode, error: o.error };
  const c = o.cert;
  return {
    target: o.target,
    status: o.judgement.verdict,
    exitCode: o.exitCode,
    windowDays: days,
    daysLeft: o.judgement.daysLeft,
    secondsLeft: o.judgement.secondsLeft,
    source: c.source,
    subject: c.subject,
    issuer: c.issuer,
    subjectAltNames: c.subjectAltNames,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    serialNumber: c.serialNumber,
    fingerprint256: c.fingerprint256,
    chainLength: c.chainLength,
    verified: c.verified,
    verifyError: c.verifyError,
  };
}

function headline(o: Exclude<Outcome, { error: unknown }>, days: number): string {
  const { verdict, daysLeft } = o.judgement;
  const end = o.cert.notAfter.toISOString();
  switch (verdict) {
    case 'valid':
      return `OK: valid for ${daysLeft} more days (until ${end})`;
    case 'expiring':
      return `EXPIRING: ${daysLeft} days left (until ${end}), within the ${days}-day window: renew it`;
    case 'expired':
      return `EXPIRED ${-daysLeft} days ago (${end}): renew it now`;
    case 'not_yet_valid':
      return `NOT YET VALID: valid from ${o.cert.notBefore.toISOString()} (is this machine's clock right?)`;
  }
}

function textOf(o: Outcome, days: number): string {
  if ('error' in o) return `${o.target}: UNREADABLE: ${o.error.message}\n`;
  const c = o.cert;
  const rows: Array<[string, string]> = [
    ['subject', c.subject],
    ['issuer', c.issuer],
    ['SANs', c.subjectAltNames.join(', ') || '(none)'],
    ['not before', c.notBefore.toISOString()],
    ['not after', c.notAfter.toISOString()],
    ['chain', `${c.chainLength} certificate(s)${c.source === 'file' ? ' in the file' : ''}`],
  ];
  if (c.verified !== null)
    rows.push([
      'verified',
      c.verified ? 'yes (trusted CA, name matches)' : `no (${c.verifyError})`,
    ]);
  return (
    `${o.target}: ${headline(o, days)}\n` +
    rows.map(([k, v]) => `  ${k.padEnd(11)}${v}`).join('\n') +
    '\n'
  );
}

export function registerCertCommands(program: Command, deps: CliIoDeps): void {
  const io = resolveIo(deps);
  const cert = program
    .command('cert')
    .description('TLS certificates')
    .addHelpText('after', '\nExample:\n  $ cfn cert check /etc/nginx/tls/tls.crt');
  cert
    .command('check')
    .description(
      "report a certificate's subject, issuer, names and dates, from a PEM file or a TLS server",
    )
    .argument('<target...>', 'a certificate file (PEM or DER; a bundle: its first), or host:port')
    .addOption(
      new Option('--days <days>', 'expiring means fewer days left than this')
        .argParser(positiveInt)
        .default(30),
    )
    .addOption(
      new Option('--timeout <ms>', 'longest wait for a server (host:port)')
        .argParser(positiveInt)
        .default(10_000),
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nA server is checked with SNI set to its host name; an untrusted or self-signed certificate\n' +
        'is still read, and "verified" says whether it chains to a trusted CA and matches the name.\n' +
        'A file whose name has a colon is given with a directory (./name:1).\n\n' +
        'Exit code (the worst of all targets): 0 valid beyond --days, 1 expiring within --days,\n' +
        'expired or not yet valid, 2 unreadable (no such file, not a certificate, no TLS answer).\n\n' +
        'Examples:\n' +
        '  $ cfn cert check /etc/nginx/tls/tls.crt\n' +
        '  $ cfn cert check example.com:443 /etc/letsencrypt/live/example.com/fullchain.pem --days 14 --json',
    )
    .action(async (targets: string[], opts: { days: number; timeout: number; json?: boolean }) => {
      // Concurrently: a server that does not answer must not hold up the others' report.
      const outcomes = await Promise.all(targets.map((t) => check(t, opts.days, opts.timeout)));
      if (opts.json)
        io.out(
          JSON.stringify(
            outcomes.map((o) => jsonOf(o, opts.days)),
            null,
            2,
          ) + '\n',
        );
      else {
        // The reports on stdout; a target that could not be read is an error, on stderr.
        const read = outcomes.filter((o) => !('error' in o));
        io.out(read.map((o) => textOf(o, opts.days)).join('\n'));
        for (const o of outcomes) if ('error' in o) io.err(`cfn: ${textOf(o, opts.days)}`);
      }
      const worst = Math.max(...outcomes.map((o) => o.exitCode));
      if (worst > 0) throw new CliError('', worst);
    });
}
