import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findWorkspaceConflict, isWithin } from './workspace-claims.js';

const claim = (swarmId: string, workspace: string) => ({ swarmId, workspace });

describe('findWorkspaceConflict', () => {
  const claims = [claim('s1', '/ws/app'), claim('s2', '/ws/shared/lib')];

  it('finds the same, a nested and an enclosing directory', () => {
    expect(findWorkspaceConflict('/ws/app', claims, [])?.swarmId).toBe('s1');
    expect(findWorkspaceConflict('/ws/app/src', claims, [])?.swarmId).toBe('s1');
    expect(findWorkspaceConflict('/ws', claims, [])?.swarmId).toBe('s1');
  });

  it('leaves siblings and look-alike prefixes free', () => {
    expect(findWorkspaceConflict('/ws/app2', claims, [])).toBeUndefined();
    expect(findWorkspaceConflict('/ws/other', claims, [])).toBeUndefined();
  });

  it('lets swarms share what lies in a shared directory, and only that', () => {
    expect(findWorkspaceConflict('/ws/shared/lib', claims, ['/ws/shared'])).toBeUndefined();
    expect(findWorkspaceConflict('/ws/shared', claims, ['/ws/shared'])).toBeUndefined();
    expect(findWorkspaceConflict('/ws/shared/lib/x', claims, ['/ws/shared/lib'])).toBeUndefined();
    // Around the shared directory is still someone else's tree.
    expect(findWorkspaceConflict('/ws', claims, ['/ws/shared'])?.swarmId).toBe('s1');
    expect(findWorkspaceConflict('/ws/app', claims, ['/ws/shared'])?.swarmId).toBe('s1');
  });

  it('is symmetric: a conflict is found whichever of the two came first', () => {
    const segment = fc.constantFrom('a', 'b', 'ab');
    const dir = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);
    fc.assert(
      fc.property(dir, dir, (x, y) => {
        const xy = findWorkspaceConflict(x, [claim('y', y)], []) !== undefined;
        const yx = findWorkspaceConflict(y, [claim('x', x)], []) !== undefined;
        expect(xy).toBe(yx);
        expect(xy).toBe(isWithin(x, y) || isWithin(y, x));
      }),
    );
  });
});
