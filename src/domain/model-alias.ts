// Claude Code agent files name models by tier ("sonnet", "opus", "haiku", "inherit"). Resolve a
// tier to a model id the configured provider accepts, so users' files work unchanged.

export const MODEL_TIERS = ['sonnet', 'opus', 'haiku'] as const;

/** The current model of each tier on the Anthropic API. */
export const ANTHROPIC_TIER_MODELS: Readonly<Record<(typeof MODEL_TIERS)[number], string>> = {
  sonnet: 'claude-sonnet-4-6',
  opus: 'claude-opus-4-7',
  haiku: 'claude-haiku-4-5',
};

/**
 * The model to call: the provider's default for "inherit", an unset model, a CLI provider (it
 * chooses its own), or a tier name on a non-Anthropic provider; on Anthropic a tier maps to the
 * configured default when that is of the same tier (ANTHROPIC_MODEL wins), else to the tier's model.
 */
export function resolveModel(
  requested: string | undefined,
  provider: { kind: string; defaultModel: string },
): string {
  if (!requested || requested === 'inherit' || provider.kind === 'cli')
    return provider.defaultModel;
  const tier = (MODEL_TIERS as readonly string[]).includes(requested)
    ? (requested as (typeof MODEL_TIERS)[number])
    : undefined;
  if (!tier) return requested;
  if (provider.kind !== 'anthropic') return provider.defaultModel;
  return provider.defaultModel.includes(tier) ? provider.defaultModel : ANTHROPIC_TIER_MODELS[tier];
}
