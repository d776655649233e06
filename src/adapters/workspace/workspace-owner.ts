// Workspace files for a sandbox whose commands run as another host user than the service (a root
// service drops them to an unprivileged uid): the tree is given to that user once, then each
// file the service writes, so commands can change everything in the workspace.
import { execFile } from 'node:child_process';
import { lchown, lstat } from 'node:fs/promises';
import path from 'node:path';
import type { SandboxOwner } from '../../ports/sandbox.js';
import { WorkspaceError } from '../../ports/workspace.js';

const CHOWN = '/bin/chown';

/** Workspaces being given to the sandbox user now: a second opener waits for the first. */
const giving = new Map<string, Promise<void>>();

/** Gives the tree at `root` to `owner` unless `root` is theirs already; no command runs meanwhile. */
export function ensureGiven(root: string, owner: SandboxOwner): Promise<void> {
  let pending = giving.get(root);
  if (!pending) {
    pending = (async () => {
      if ((await lstat(root)).uid !== owner.uid) await giveTree(root, owner);
    })();
    giving.set(root, pending);
    pending.then(
      () => giving.delete(root),
      () => giving.delete(root),
    );
  }
  return pending;
}

/**
 * Gives a whole tree to `owner`, links themselves included. GNU chown -R -P walks by file
 * descriptor and never follows a link, even one swapped in for a directory while it walks.
 */
function giveTree(root: string, owner: SandboxOwner): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      CHOWN,
      ['-R', '-P', '-h', '--', `${owner.uid}:${owner.gid}`, root],
      (error, _stdout, stderr) => {
        if (error)
          reject(
            new WorkspaceError(
              'IO',
              `cannot give the workspace to the sandbox user: ${stderr.trim() || error.message}`,
            ),
          );
        else resolvePromise();
      },
    );
  });
}

/** Gives the directories mkdir made, from `first` down to `last`, to `owner`. */
export async function giveCreatedDirs(
  first: string,
  last: string,
  owner: SandboxOwner,
): Promise<void> {
  for (let dir = last; ; dir = path.dirname(dir)) {
    await lchown(dir, owner.uid, owner.gid);
    if (dir === first || dir === path.dirname(dir)) return;
  }
}
