// Price lookup and cost: exact ids, longest prefix, routed ids, unknown models, user tables.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../domain/errors.js';
import {
  DEFAULT_PRICES,
  costUsd,
  findPrice,
  mergePriceTables,
  parsePriceTable,
} from './pricing.js';

const million = { inputTokens: 1_000_000, outputTokens: 1_000_000 };

describe('costUsd with the built-in table', () => {
  it('prices dated snapshots through their prefix entry', () => {
    expect(costUsd(DEFAULT_PRICES, 'claude-sonnet-4-5-20250929', million)).toEqual({
      usd: 18,
      priced: true,
      matched: 'claude-sonnet-4*',
    });
    expect(
      costUsd(DEFAULT_PRICES, 'claude-haiku-4-5', { inputTokens: 2_000, outputTokens: 500 }),
    ).toMatchObject({ usd: 0.0045, priced: true });
  });

  it('prefers the longest matching prefix and exact ids', () => {
    expect(findPrice(DEFAULT_PRICES, 'gpt-5-mini-2025-08-07')?.key).toBe('gpt-5-mini*');
    expect(findPrice(DEFAULT_PRICES, 'gpt-5-2025-08-07')?.key).toBe('gpt-5-*');
    expect(findPrice(DEFAULT_PRICES, 'gpt-5')?.key).toBe('gpt-5');
    expect(findPrice(DEFAULT_PRICES, 'gpt-5.2-pro')?.key).toBe('gpt-5.2-pro*');
    expect(findPrice(DEFAULT_PRICES, 'gpt-4o-mini')?.key).toBe('gpt-4o-mini*');
    expect(findPrice(DEFAULT_PRICES, 'claude-opus-4-1-20250805')?.price).toEqual({
      input: 15,
      output: 75,
    });
    expect(findPrice(DEFAULT_PRICES, 'claude-opus-4-6')?.price).toEqual({ input: 5, output: 25 });
  });

  it("prices routed ids such as OpenRouter's by their last segment", () => {
    expect(costUsd(DEFAULT_PRICES, 'anthropic/claude-opus-4-7', million)).toMatchObject({
      usd: 30,
      priced: true,
    });
  });

  it('reports unknown models as unpriced instead of guessing', () => {
    for (const model of ['llama3.1:8b', 'claude-opus-9', 'my-finetune']) {
      expect(costUsd(DEFAULT_PRICES, model, million)).toEqual({ usd: 0, priced: false });
    }
  });

  it('is linear in tokens and never negative', () => {
    fc.assert(
      fc.property(fc.nat(10_000_000), fc.nat(10_000_000), (inputTokens, outputTokens) => {
        const { usd } = costUsd(DEFAULT_PRICES, 'gpt-4.1', { inputTokens, outputTokens });
        expect(usd).toBeGreaterThanOrEqual(0);
        expect(usd).toBeCloseTo((inputTokens * 2 + outputTokens * 8) / 1_000_000, 9);
      }),
    );
  });
});

describe('user price tables', () => {
  it('parses a valid table and prices with it', () => {
    const table = parsePriceTable({
      prices: { 'local-*': { input: 0, output: 0 }, 'my-model': { input: 1, output: 2 } },
    });
    expect(costUsd(table, 'my-model', million)).toMatchObject({ usd: 3, priced: true });
    expect(costUsd(table, 'local-llama', million)).toMatchObject({ usd: 0, priced: true });
  });

  it('rejects bad tables with the offending path', () => {
    const cases: unknown[] = [
      { prices: { m: { input: -1, output: 1 } } },
      { prices: { m: { input: 1 } } },
      { prices: { m: { input: 1, output: 1, cached: 1 } } },
      { prices: { 'a*b': { input: 1, output: 1 } } },
      { prices: { '*': { input: 1, output: 1 } } },
      { models: {} },
      'not a table',
    ];
    for (const json of cases) {
      expect(() => parsePriceTable(json)).toThrow(ValidationError);
    }
    try {
      parsePriceTable({ prices: { m: { input: -1, output: 1 } } });
    } catch (err) {
      expect((err as ValidationError).details).toEqual({
        issues: [{ path: 'prices.m.input', message: expect.any(String) }],
      });
    }
  });

  it('merges tables, later entries overriding earlier ones', () => {
    const override = parsePriceTable({ prices: { 'gpt-4.1*': { input: 1, output: 1 } } });
    const merged = mergePriceTables(DEFAULT_PRICES, override);
    expect(findPrice(merged, 'gpt-4.1')?.price).toEqual({ input: 1, output: 1 });
    expect(findPrice(merged, 'claude-sonnet-4-6')?.price).toEqual({ input: 3, output: 15 });
    expect(findPrice(DEFAULT_PRICES, 'gpt-4.1')?.price).toEqual({ input: 2, output: 8 });
  });
});
