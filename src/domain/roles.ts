// Roles of API keys and what each may do: a higher role includes every lower one.

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** True when a key holding `held` may do what needs `required`. */
export function roleSatisfies(held: Role, required: Role): boolean {
  return rank[held] >= rank[required];
}

/** The least role a request needs by method: reads need viewer, anything that mutates operator. */
export function roleForMethod(method: string): Role {
  return ['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase()) ? 'viewer' : 'operator';
}
