// The CommandSandbox on bubblewrap: each command runs in fresh PID, mount, IPC, UTS and (unless the
// swarm may use it) network namespaces, as an unprivileged user, from a cleared environment, seeing
// only read-only system directories, a few /etc files, its own /proc, /tmp and HOME, and the
// workspace as the one writable host directory. Killing bwrap kills everything inside.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readlink, rename, rm, writeFile, chown } from 'node:fs/promises';
import path from 'node:path';
import type { CommandSandbox, SandboxOwner } from '../../ports/sandbox.js';
import type { CommandResult } from '../../ports/workspace.js';
import { runProcess, shellArgv } from './process-runner.js';

export interface BwrapSandboxOptions {
  /** Absolute path of the bwrap executable. */
  bwrap: string;
  /** A directory of the service's where the sandbox's passwd and group files are kept. */
  supportDir: string;
  /**
   * Set when the service runs as root: bwrap then sets the sandbox up with root's rights and the
   * command drops to this real unprivileged uid/gid (setpriv) before it starts. Unset: bwrap runs
   * as the service's user and a user namespace maps it to the sandbox user.
   */
  dropTo?: SandboxOwner | undefined;
}

/** The sandbox user's name, home and (in a user namespace) uid/gid, as the command sees them. */
const SANDBOX_USER = 'sandbox';
const SANDBOX_HOME = '/home/sandbox';
const USERNS_ID = 1000;
const OVERFLOW_ID = 65534;
const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';
/** Each of /tmp and HOME is a tmpfs (memory): bounded so one command cannot fill the host's RAM. */
const TMPFS_BYTES = 512 * 1024 * 1024;
/** Top-level system paths mirrored read-only (or as the same symlink, on merged-/usr systems). */
const SYSTEM_PATHS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/**
 * The /etc the sandbox sees: name resolution, TLS roots, the dynamic linker, time zone, the
 * alternatives symlinks. Never /etc wholesale (shadow, ssh host keys, the service's config).
 */
const ETC_FILES = [
  '/etc/hosts',
  '/etc/resolv.conf',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/services',
  '/etc/protocols',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/timezone',
  '/etc/alternatives',
  '/etc/ssl/certs',
  '/etc/ssl/openssl.cnf',
  '/etc/ca-certificates',
  '/etc/ca-certificates.conf',
  '/etc/mime.types',
  '/etc/os-release',
  '/etc/debian_version',
];
const ETC_DIRS = [...new Set(ETC_FILES.map((file) => path.dirname(file)))].sort();
const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv'];

export async function createBwrapSandbox(options: BwrapSandboxOptions): Promise<CommandSandbox> {
  const dropTo = options.dropTo;
  const setpriv = dropTo ? await findSetpriv() : undefined;
  const { passwd, group } = await writeIdentityFiles(options.supportDir, dropTo);
  const systemArgs = await systemMountArgs();

  function argv(commandLine: string, workspace: string, network: boolean): [string, ...string[]] {
    const args: string[] = [
      options.bwrap,
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-cgroup-try',
      ...(network ? [] : ['--unshare-net']),
      ...(dropTo
        ? []
        : // Nobody inside may make further user namespaces (less kernel to attack).
          [
            '--unshare-user',
            '--uid',
            String(USERNS_ID),
            '--gid',
            String(USERNS_ID),
            '--disable-userns',
          ]),
      '--die-with-parent',
      '--new-session',
      '--hostname',
      'cfn-sandbox',
      ...systemArgs,
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      ...['--perms', '1777', '--size', String(TMPFS_BYTES), '--tmpfs', '/tmp'],
      ...['--dir', '/var', '--symlink', '../tmp', '/var/tmp'],
      // --perms would apply to the parents bwrap makes on the way too: make /home first.
      ...['--dir', path.dirname(SANDBOX_HOME)],
      ...['--perms', '0700', '--size', String(TMPFS_BYTES), '--tmpfs', SANDBOX_HOME],
      // bwrap makes the parents of a file it binds 0700 (unreadable after the drop): make them first.
      ...ETC_DIRS.flatMap((dir) => ['--dir', dir]),
      ...['--ro-bind', passwd, '/etc/passwd', '--ro-bind', group, '/etc/group'],
      ...ETC_FILES.flatMap((file) => ['--ro-bind-try', file, file]),
      // Searchable parents, so absolute paths into the workspace resolve (node, npm, git use them).
      ...ancestors(workspace).flatMap((dir) => ['--dir', dir]),
      ...['--bind', workspace, workspace, '--chdir', workspace],
      '--',
    ];
    if (setpriv && dropTo) {
      // Still root inside: give HOME to the sandbox user, then become it for good (no
      // capabilities, no setuid gains) before the command starts.
      args.push(
        '/bin/sh',
        '-c',
        '/bin/chown "$1:$2" "$3" && shift 3 && exec "$@"',
        'cfn-sandbox-setup',
        String(dropTo.uid),
        String(dropTo.gid),
        SANDBOX_HOME,
        setpriv,
        `--reuid=${dropTo.uid}`,
        `--regid=${dropTo.gid}`,
        '--clear-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
        '--no-new-privs',
        '--',
      );
    }
    args.push(...shellArgv(commandLine));
    return args as [string, ...string[]];
  }

  return {
    owner: dropTo,
    run(commandLine, run): Promise<CommandResult> {
      return runProcess({
        argv: argv(commandLine, run.workspace, run.network),
        cwd: '/',
        // bwrap passes its environment on, so this is all the command gets (and all that
        // /proc/1/environ, bwrap's own, shows inside).
        env: {
          PATH: SANDBOX_PATH,
          HOME: SANDBOX_HOME,
          TMPDIR: '/tmp',
          LANG: 'C.UTF-8',
          USER: SANDBOX_USER,
          LOGNAME: SANDBOX_USER,
          NO_UPDATE_NOTIFIER: '1',
          npm_config_update_notifier: 'false',
          ...run.env,
        },
        timeoutMs: run.timeoutMs,
        signal: run.signal,
        maxOutputBytes: run.maxOutputBytes,
        stderrLabel: 'sandbox',
      });
    },
  };
}

/** passwd and group naming the sandbox user (tools look their user up), written atomically. */
async function writeIdentityFiles(
  dir: string,
  drop: SandboxOwner | undefined,
): Promise<{ passwd: string; group: string }> {
  await mkdir(dir, { recursive: true });
  const id = drop ?? { uid: USERNS_ID, gid: USERNS_ID };
  const users = [
    `root:x:0:0:root:/root:/usr/sbin/nologin`,
    `${SANDBOX_USER}:x:${id.uid}:${id.gid}:CFN sandbox:${SANDBOX_HOME}:/bin/sh`,
    ...(id.uid === OVERFLOW_ID
      ? []
      : [`nobody:x:${OVERFLOW_ID}:${OVERFLOW_ID}:nobody:/nonexistent:/usr/sbin/nologin`]),
  ];
  const groups = [
    'root:x:0:',
    `${SANDBOX_USER}:x:${id.gid}:`,
    ...(id.gid === OVERFLOW_ID ? [] : [`nogroup:x:${OVERFLOW_ID}:`]),
  ];
  const passwdFile = path.join(dir, 'passwd');
  const groupFile = path.join(dir, 'group');
  await writeAtomically(passwdFile, users.join('\n') + '\n');
  await writeAtomically(groupFile, groups.join('\n') + '\n');
  return { passwd: passwdFile, group: groupFile };
}

/**
 * Runs a trivial command in the sandbox (writing in a scratch workspace) and throws, saying why,
 * unless it works: the start-up self-test.
 */
export async function selfTestSandbox(
  sandbox: CommandSandbox,
  scratchParent: string,
  timeoutMs = 10_000,
): Promise<void> {
  await mkdir(scratchParent, { recursive: true });
  const scratch = await mkdtemp(path.join(scratchParent, 'self-test-'));
  try {
    if (sandbox.owner) await chown(scratch, sandbox.owner.uid, sandbox.owner.gid);
    const result = await sandbox.run('touch probe && echo cfn-sandbox-ok', {
      workspace: scratch,
      env: {},
      timeoutMs,
      maxOutputBytes: 4096,
      network: false,
    });
    if (result.exitCode !== 0 || !result.output.includes('cfn-sandbox-ok')) {
      const why = result.timedOut
        ? `timed out after ${timeoutMs} ms`
        : `exit ${result.exitCode ?? result.signal}`;
      throw new Error(
        `the sandbox self-test failed (${why}): ${result.output.trim() || 'no output'}`,
      );
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** bwrap arguments that mirror /usr and the top-level system directories (or their symlinks). */
async function systemMountArgs(): Promise<string[]> {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const p of SYSTEM_PATHS) {
    const info = await lstat(p).catch(() => undefined);
    if (!info) continue;
    if (info.isSymbolicLink()) args.push('--symlink', await readlink(p), p);
    else if (info.isDirectory()) args.push('--ro-bind', p, p);
  }
  return args;
}

/** `/a/b/c` -> [`/a`, `/a/b`]. */
function ancestors(dir: string): string[] {
  const chain: string[] = [];
  for (let p = path.dirname(dir); p !== path.dirname(p); p = path.dirname(p)) chain.unshift(p);
  return chain;
}

async function findSetpriv(): Promise<string> {
  for (const candidate of SETPRIV_CANDIDATES) {
    const info = await lstat(candidate).catch(() => undefined);
    if (info) return candidate;
  }
  throw new Error(
    'setpriv (Debian package util-linux) is needed to drop to an unprivileged user when the service runs as root',
  );
}

async function writeAtomically(file: string, content: string): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, content, { mode: 0o644 });
  await rename(temp, file);
}
