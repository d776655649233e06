// What tokens cost: a built-in price table for current Claude and OpenAI models, a validated
// format for a user-supplied table, and the lookup (exact id, else longest matching prefix).

import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import type { PriceTable, TokenUsage } from '../ports/provider.js';

/**
 * USD per million tokens, from the vendors' public price lists (2026). Prefix entries cover
 * dated snapshots (claude-sonnet-4-5-20250929). Unlisted models are reported as unpriced rather
 * than guessed; a price file supplied by the operator overrides or extends this table.
 */
export const DEFAULT_PRICES: PriceTable = Object.freeze({
  prices: Object.freeze({
    // Anthropic
    'claude-opus-4-7*': { input: 5, output: 25 },
    'claude-opus-4-6*': { input: 5, output: 25 },
    'claude-opus-4-5*': { input: 5, output: 25 },
    'claude-opus-4-1*': { input: 15, output: 75 },
    'claude-opus-4-0*': { input: 15, output: 75 },
    'claude-opus-4-20250514': { input: 15, output: 75 },
    'claude-sonnet-4*': { input: 3, output: 15 },
    'claude-3-7-sonnet*': { input: 3, output: 15 },
    'claude-3-5-sonnet*': { input: 3, output: 15 },
    'claude-haiku-4-5*': { input: 1, output: 5 },
    'claude-3-5-haiku*': { input: 0.8, output: 4 },
    'claude-3-haiku*': { input: 0.25, output: 1.25 },
    'claude-3-opus*': { input: 15, output: 75 },
    // OpenAI
    'gpt-5.4*': { input: 2.5, output: 15 },
    'gpt-5.2-pro*': { input: 21, output: 168 },
    'gpt-5.2*': { input: 1.75, output: 14 },
    'gpt-5.1-codex-mini*': { input: 0.25, output: 2 },
    'gpt-5.1*': { input: 1.25, output: 10 },
    'gpt-5-pro*': { input: 15, output: 120 },
    'gpt-5-mini*': { input: 0.25, output: 2 },
    'gpt-5-nano*': { input: 0.05, output: 0.4 },
    'gpt-5': { input: 1.25, output: 10 },
    'gpt-5-*': { input: 1.25, output: 10 },
    'gpt-4.1-nano*': { input: 0.1, output: 0.4 },
    'gpt-4.1-mini*': { input: 0.4, output: 1.6 },
    'gpt-4.1*': { input: 2, output: 8 },
    'gpt-4o-mini*': { input: 0.15, output: 0.6 },
    'gpt-4o*': { input: 2.5, output: 10 },
    'o4-mini*': { input: 1.1, output: 4.4 },
    'o3-mini*': { input: 1.1, output: 4.4 },
    'o3-pro*': { input: 20, output: 80 },
    'o3*': { input: 2, output: 8 },
    'o1*': { input: 15, output: 60 },
  }),
});

export interface CostEstimate {
  usd: number;
  /** False when no entry matched the model: the cost is unknown, not zero. */
  priced: boolean;
  /** The table key that priced the call (exact id or prefix pattern). */
  matched?: string;
}

export function costUsd(table: PriceTable, model: string, usage: TokenUsage): CostEstimate {
  const found = findPrice(table, model);
  if (!found) return { usd: 0, priced: false };
  const usd =
    (usage.inputTokens * found.price.input + usage.outputTokens * found.price.output) / 1_000_000;
  return { usd, priced: true, matched: found.key };
}

/**
 * Exact id first, then the longest prefix entry; a routed id such as "anthropic/claude-sonnet-4"
 * (OpenRouter) falls back to the part after the last slash.
 */
type Found = { key: string; price: { input: number; output: number } } | undefined;
/** Look-ups by table (tables are not changed once parsed): a prefix match scans them all. */
const lookUps = new WeakMap<PriceTable, Map<string, Found>>();

export function findPrice(table: PriceTable, model: string): Found {
  let byModel = lookUps.get(table);
  if (!byModel) lookUps.set(table, (byModel = new Map()));
  if (byModel.has(model)) return byModel.get(model);
  const result = lookUp(table, model);
  if (byModel.size < 10_000) byModel.set(model, result);
  return result;
}

function lookUp(table: PriceTable, model: string): Found {
  const candidates = model.includes('/')
    ? [model, model.slice(model.lastIndexOf('/') + 1)]
    : [model];
  for (const id of candidates) {
    const exact = table.prices[id];
    if (exact) return { key: id, price: exact };
    let best: Found;
    for (const [key, price] of Object.entries(table.prices)) {
      if (!key.endsWith('*')) continue;
      const prefix = key.slice(0, -1);
      if (id.startsWith(prefix) && (!best || prefix.length > best.key.length - 1)) {
        best = { key, price };
      }
    }
    if (best) return best;
  }
  return undefined;
}

const priceSchema = z.strictObject({
  input: z.number().nonnegative().finite(),
  output: z.number().nonnegative().finite(),
});

const priceTableSchema = z.strictObject({
  prices: z.record(
    z
      .string()
      .min(1)
      .refine((key) => !key.slice(0, -1).includes('*') && key !== '*', {
        message: "model id, or a prefix ending in a single '*'",
      }),
    priceSchema,
  ),
});

/** Validates a user-supplied price table ({"prices": {"model": {"input": n, "output": n}}}). */
export function parsePriceTable(json: unknown): PriceTable {
  const parsed = priceTableSchema.safeParse(json);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid price table: ${z.prettifyError(parsed.error)}`,
      issuesOf(parsed.error),
    );
  }
  return { prices: parsed.data.prices };
}

/** Later tables override earlier ones entry by entry, e.g. mergePriceTables(DEFAULT_PRICES, file). */
export function mergePriceTables(...tables: PriceTable[]): PriceTable {
  return { prices: Object.assign({}, ...tables.map((table) => table.prices)) };
}

function issuesOf(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}
