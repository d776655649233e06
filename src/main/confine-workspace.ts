// A workspace must really be a directory of its own inside a configured root: resolved (the real
// path of the root, then each part below it checked) before it is accepted, with no symbolic link
// on the way (a link could be pointed elsewhere after the check) and never a root itself.
import fs from 'node:fs';
import path from 'node:path';
import { isWithin as within } from '../domain/workspace-claims.js';

/** The real path of `p`, or of its nearest existing ancestor with the missing rest appended. */
export function realpathOfNearest(p: string): string {
  let existing = p;
  const rest: string[] = [];
  while (!fs.existsSync(existing)) {
    rest.unshift(path.basename(existing));
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  return path.join(fs.realpathSync(existing), ...rest);
}

/**
 * The real path of the workspace `resolved` (absolute, lexically inside one of `roots`), or throws
 * an Error whose message says why it is refused.
 */
export function confineWorkspace(resolved: string, roots: readonly string[]): string {
  const root = roots.find((r) => within(resolved, path.resolve(r)));
  if (root === undefined) throw new Error('it is outside CFN_WORKSPACE_ROOTS');
  const rel = path.relative(path.resolve(root), resolved);
  if (rel === '') {
    throw new Error(
      'it is a workspace root itself (CFN_WORKSPACE_ROOTS); choose a directory inside it',
    );
  }
  let current = realpathOfNearest(path.resolve(root));
  let exists = fs.existsSync(current);
  for (const part of rel.split(path.sep)) {
    current = path.join(current, part);
    if (!exists) continue;
    let info: fs.Stats;
    try {
      info = fs.lstatSync(current);
    } catch {
      exists = false; // the rest is created when the swarm first opens it
      continue;
    }
    if (info.isSymbolicLink()) {
      throw new Error(
        `it is, or is under, a symbolic link (${current}); symbolic links are refused as workspaces`,
      );
    }
    if (!info.isDirectory()) throw new Error(`${current} exists and is not a directory`);
  }
  const realRoots = roots.map((r) => realpathOfNearest(path.resolve(r)));
  if (realRoots.some((r) => within(r, current))) {
    throw new Error(
      'it is, or contains, a workspace root (CFN_WORKSPACE_ROOTS); choose a directory inside one',
    );
  }
  return current;
}
