import { describe, expect, it } from 'vitest';
import { resolveModel } from './model-alias.js';

describe('resolveModel', () => {
  const anthropic = { kind: 'anthropic', defaultModel: 'claude-sonnet-4-6' };
  it('maps Claude Code tiers to model ids the provider accepts', () => {
    expect(resolveModel('sonnet', anthropic)).toBe('claude-sonnet-4-6');
    expect(
      resolveModel('sonnet', { kind: 'anthropic', defaultModel: 'claude-sonnet-4-5-20250929' }),
    ).toBe('claude-sonnet-4-5-20250929');
    expect(resolveModel('opus', anthropic)).toBe('claude-opus-4-7');
    expect(resolveModel('haiku', anthropic)).toBe('claude-haiku-4-5');
    expect(resolveModel('sonnet', { kind: 'openai', defaultModel: 'gpt-5-mini' })).toBe(
      'gpt-5-mini',
    );
  });
  it('uses the default for inherit, unset, and CLI providers; keeps explicit ids', () => {
    expect(resolveModel('inherit', anthropic)).toBe('claude-sonnet-4-6');
    expect(resolveModel(undefined, anthropic)).toBe('claude-sonnet-4-6');
    expect(resolveModel('claude-opus-4-1', { kind: 'cli', defaultModel: 'default' })).toBe(
      'default',
    );
    expect(resolveModel('gpt-4.1', { kind: 'openai', defaultModel: 'gpt-5-mini' })).toBe('gpt-4.1');
  });
});
