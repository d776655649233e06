// A workspace must really be inside a configured root: symlinks are resolved (of the nearest
// existing ancestor when the directory does not exist yet) before the containment check.
import fs from 'node:fs';
import path from 'node:path';

function realpathOfNearest(p: string): string {
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

export function confineWorkspace(resolved: string, roots: readonly string[]): string {
  const real = realpathOfNearest(resolved);
  const inside = roots.some((root) => {
    const r = realpathOfNearest(root);
    return real === r || real.startsWith(r + path.sep);
  });
  if (!inside)
    throw new Error(
      'it resolves (through a symbolic link) to a directory outside CFN_WORKSPACE_ROOTS',
    );
  return real;
}
