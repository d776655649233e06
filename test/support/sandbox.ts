// The real bubblewrap sandbox for tests, and what they need to watch it from the host: workspaces
// the sandbox user may write, and the host processes still inside a sandbox's PID namespace.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createBwrapSandbox } from '../../src/adapters/sandbox/bwrap-sandbox.js';
import type { CommandSandbox } from '../../src/ports/sandbox.js';

/** The uid/gid a root test process drops sandboxed commands to (the service's default). */
export const SANDBOX_ID = 65534;

/** bwrap's path; a missing bwrap fails the test with the package to install. */
export function bwrapPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v bwrap'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'bwrap is missing: install the Debian package bubblewrap (scripts/install-test-tools.sh)',
    );
  }
}

export function createTestSandbox(supportDir: string): Promise<CommandSandbox> {
  return createBwrapSandbox({
    bwrap: bwrapPath(),
    supportDir,
    dropTo: process.getuid?.() === 0 ? { uid: SANDBOX_ID, gid: SANDBOX_ID } : undefined,
  });
}

/** A directory for `sandbox.run`, writable by the sandbox's user (fs-workspace does this itself). */
export function sandboxWorkspace(sandbox: CommandSandbox, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  if (sandbox.owner) fs.chownSync(dir, sandbox.owner.uid, sandbox.owner.gid);
  return fs.realpathSync(dir);
}

/**
 * A FIFO in `dir` the sandbox user may write: a command writes to it when it is ready (e.g. its
 * PID namespace), and `read()` resolves with that, so a test waits on the signal, not on time.
 */
export function signalFifo(
  sandbox: CommandSandbox,
  dir: string,
): { name: string; read(): Promise<string> } {
  const name = `signal-${Math.random().toString(16).slice(2)}.fifo`;
  const file = path.join(dir, name);
  execFileSync('mkfifo', ['-m', '0666', file]);
  if (sandbox.owner) fs.chownSync(file, sandbox.owner.uid, sandbox.owner.gid);
  return { name, read: async () => (await fs.promises.readFile(file, 'utf8')).trim() };
}

/**
 * Host pids of the live processes in the PID namespace `nsLink` (as `readlink /proc/self/ns/pid`
 * says inside). Zombies do not count: bwrap's init may wait a while for the host's PID 1 to reap it.
 */
export function pidNamespaceMembers(nsLink: string): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(path.join('/proc', entry, 'ns', 'pid')) !== nsLink) continue;
      const stat = fs.readFileSync(path.join('/proc', entry, 'stat'), 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z')
        members.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to look at
    }
  }
  return members;
}

/**
 * Waits (bounded) until no process is left in the namespace. The kernel offers no event for the
 * end of processes that are not our children, so this looks again on each turn of the loop.
 */
export async function waitUntilNamespaceEmpty(nsLink: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = pidNamespaceMembers(nsLink);
    if (left.length === 0) return;
    if (performance.now() > deadline)
      throw new Error(`processes ${left.join(', ')} still alive in ${nsLink}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
