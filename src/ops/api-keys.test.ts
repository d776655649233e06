import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, keyPrefix } from './api-keys.js';
import { roleForMethod, roleSatisfies } from '../domain/roles.js';

describe('api key material', () => {
  it('generates distinct high-entropy keys with a recognisable prefix', () => {
    const keys = new Set(Array.from({ length: 200 }, generateApiKey));
    expect(keys.size).toBe(200);
    for (const k of keys) expect(k).toMatch(/^cfn_[A-Za-z0-9_-]{43}$/);
  });

  it('hashes deterministically and shows only a short prefix', () => {
    const k = generateApiKey();
    expect(hashApiKey(k)).toBe(hashApiKey(k));
    expect(hashApiKey(k)).toMatch(/^[0-9a-f]{64}$/);
    expect(keyPrefix(k)).toBe(k.slice(0, 10));
    expect(keyPrefix('custom-bootstrap-key-123456')).toBe('custom');
  });
});

describe('roles', () => {
  it('orders viewer < operator < admin', () => {
    expect(roleSatisfies('admin', 'operator')).toBe(true);
    expect(roleSatisfies('operator', 'viewer')).toBe(true);
    expect(roleSatisfies('viewer', 'operator')).toBe(false);
    expect(roleSatisfies('operator', 'admin')).toBe(false);
  });

  it('needs viewer to read and operator to write', () => {
    expect(roleForMethod('GET')).toBe('viewer');
    expect(roleForMethod('head')).toBe('viewer');
    expect(roleForMethod('POST')).toBe('operator');
    expect(roleForMethod('DELETE')).toBe('operator');
  });
});
