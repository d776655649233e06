// CFN Loop thresholds and iteration limits per mode (ARCHITECTURE.md §5).

export const MODES = ['mvp', 'standard', 'enterprise'] as const;
export type Mode = (typeof MODES)[number];

export interface ModeRules {
  /** Mean implementer confidence needed to pass the gate. */
  gate: number;
  /** Mean validator score needed for consensus. */
  consensus: number;
  maxIterations: number;
}

export const MODE_RULES: Readonly<Record<Mode, ModeRules>> = Object.freeze({
  mvp: { gate: 0.7, consensus: 0.8, maxIterations: 5 },
  standard: { gate: 0.75, consensus: 0.9, maxIterations: 10 },
  enterprise: { gate: 0.85, consensus: 0.95, maxIterations: 15 },
});

export const STRATEGIES = ['cfn-loop', 'parallel', 'sequential', 'hierarchical'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const DECISIONS = ['PROCEED', 'ITERATE', 'ABORT'] as const;
export type Decision = (typeof DECISIONS)[number];
