// Each unfinished swarm has a workspace of its own: a directory another unfinished swarm uses,
// or one inside or around it, is taken, unless both lie in a directory the operator shares.

export interface WorkspaceClaim {
  swarmId: string;
  /** Absolute path of the workspace. */
  workspace: string;
}

/** Whether `inner` is `outer` or lies below it (absolute POSIX paths, no trailing slash). */
export function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);
}

/** The first claim `wanted` collides with (same, nested or enclosing), or undefined when it is free. */
export function findWorkspaceConflict(
  wanted: string,
  claims: readonly WorkspaceClaim[],
  shared: readonly string[],
): WorkspaceClaim | undefined {
  return claims.find(
    (claim) =>
      (isWithin(wanted, claim.workspace) || isWithin(claim.workspace, wanted)) &&
      !shared.some((dir) => isWithin(wanted, dir) && isWithin(claim.workspace, dir)),
  );
}
