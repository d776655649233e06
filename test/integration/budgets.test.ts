// Budgets that hold for any script: a swarm never spends more than its token budget, however its
// objective is written (the fake LLM counts CJK at more than a token per character, as real
// tokenizers do), and a swarm that fits its budget is not refused because of a call's full output
// limit: the limit is cut to what the budget still allows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentOf,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';

let h: SwarmHarness;
beforeAll(async () => {
  h = await startSwarmHarness(
    {},
    {
      // Short answers: the old characters/4 reservation of such a call was far below its cost.
      'terse-impl': { role: 'implementer', maxTokens: 500 },
      'terse-val': { role: 'validator', maxTokens: 500 },
    },
  );
});
afterAll(async () => {
  await h?.stop();
});

const spent = (s: Record<string, unknown>) => {
  const t = s.tokens as { input: number; output: number };
  return t.input + t.output;
};

describe('budgets', () => {
  it('never spends more than the token budget, whatever the script of the objective', async () => {
    // Answers that take a while: a call still under way when its sibling is refused is billed,
    // so it is waited for and counted, not dropped from the totals.
    h.llm.setResponder((req) =>
      agentOf(req) === 'terse-impl'
        ? { ...implementer(0.9), delayMs: 400 }
        : validator(0.3, '要求を満たしていない'),
    );
    // About 2,000 CJK characters: some 2,600 tokens per call, 650 by characters/4.
    const objective = `次の仕様を実装してください。${'データベースの移行と検証を自動化する。'.repeat(100)}`;
    for (const maxTokens of [6_000, 10_000, 25_000]) {
      const s = await h.submit({
        objective,
        agents: ['terse-impl', 'terse-impl'],
        validators: ['terse-val'],
        mode: 'mvp',
        budget: { maxTokens },
      });
      expect(s.status).toBe(202);
      await h.follow(s.id);
      const swarm = await h.get(s.id);
      expect(swarm.status).toBe('budget_exceeded');
      expect(spent(swarm)).toBeGreaterThan(0);
      expect(spent(swarm)).toBeLessThanOrEqual(maxTokens);
    }
  });

  it('runs a swarm whose cost fits a USD budget smaller than one full output limit', async () => {
    h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
    const before = h.llm.requests.length;
    // claude-sonnet-4-6 output is $15 per million tokens: 4,096 of them alone cost $0.061.
    const s = await h.submit({
      objective: 'Write a greeting module',
      agents: ['impl-a'],
      validators: ['val-a'],
      budget: { maxCostUsd: 0.05 },
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(swarm).toMatchObject({ status: 'completed' });
    expect(swarm.costUsd as number).toBeGreaterThan(0);
    expect(swarm.costUsd as number).toBeLessThan(0.01);
    // Each call asked for the output the budget allowed, not the agent's 4,096.
    const calls = h.llm.requests.slice(before);
    for (const c of calls) {
      const limit = (c.body as { max_tokens: number }).max_tokens;
      expect(limit).toBeLessThan(4096);
      expect(limit).toBeGreaterThan(1000);
    }
  });

  it('cuts the last calls short instead of going over, and stops when even a short answer does not fit', async () => {
    h.llm.setResponder((req) =>
      agentOf(req) === 'impl-a'
        ? { text: `${'word '.repeat(3000)}\n{"confidence": 0.9, "summary": "long"}` }
        : validator(0.95),
    );
    const before = h.llm.requests.length;
    const s = await h.submit({
      objective: 'Write a long essay',
      agents: ['impl-a'],
      validators: ['val-a'],
      budget: { maxTokens: 2_500 },
    });
    await h.follow(s.id);
    const swarm = await h.get(s.id);
    expect(spent(swarm)).toBeLessThanOrEqual(2_500);
    const [first] = h.llm.requests.slice(before);
    expect((first!.body as { max_tokens: number }).max_tokens).toBeLessThan(2_500);
    // The answer stopped at its limit: no contract object, the task failed with that reason.
    expect(JSON.stringify(swarm)).toMatch(/budget exceeded|no JSON object|output contract/i);
  });
});
