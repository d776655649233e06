// What one LLM call of a budgeted swarm may spend. Its input is counted by the provider's own
// tokenizer where the provider offers that (Anthropic's token counting), else bounded from above
// whatever the script (UTF-8 bytes: a byte-level tokenizer never makes more tokens than bytes,
// whereas characters/4 undercounts CJK several times over). Its output limit is cut to what the
// budget still allows instead of refusing a call that fits; the provider stops the answer there, so
// a swarm never spends more than its budget but for one call's settled difference (a count that
// was off, a model priced otherwise than the one reserved).
import type { ChatMessage, Provider, TokenCountRequest, ToolSpec } from '../ports/provider.js';
import type { SwarmStore } from '../ports/swarm-store.js';

/** Framing tokens a provider adds around each message and the request (roles, separators). */
const PER_MESSAGE = 16;
/** Below this, an answer could not even hold the output contract: the budget is exhausted. */
const MIN_OUTPUT_TOKENS = 100;

/** An upper bound of the call's input tokens. */
export function inputTokenBound(
  system: string,
  messages: readonly ChatMessage[],
  tools: readonly ToolSpec[],
): number {
  let bytes = Buffer.byteLength(system, 'utf8') + PER_MESSAGE;
  for (const m of messages) bytes += Buffer.byteLength(JSON.stringify(m), 'utf8') + PER_MESSAGE;
  if (tools.length) bytes += Buffer.byteLength(JSON.stringify(tools), 'utf8');
  return bytes;
}

/** The provider's count is its estimate ("may differ by a small amount"): a margin on top. */
const COUNT_MARGIN = 1.05;
const COUNT_SLACK = 32;

/** The call's input tokens for its reservation: counted by the provider, or bounded. */
export async function inputTokensFor(
  provider: Provider,
  request: TokenCountRequest & { tools: ToolSpec[] },
): Promise<number> {
  const bound = () => inputTokenBound(request.system, request.messages, request.tools);
  if (!provider.countInputTokens) return bound();
  try {
    const counted = await provider.countInputTokens(request);
    return Math.ceil(counted * COUNT_MARGIN) + COUNT_SLACK;
  } catch {
    return bound(); // counting is a refinement: without it the bound is safe
  }
}

export type Pricing = (
  model: string,
  usage: { inputTokens: number; outputTokens: number },
) => number;

export interface CallGrant {
  /** The output limit the call is made with. */
  maxTokens: number;
  /** Gives the reservation back (after the call, whatever its outcome). */
  release(): Promise<void>;
}

/**
 * Reserves the call's worst case. Undefined: the budget cannot take even a short answer (`need`
 * says what was asked, for the failure's reason).
 */
export async function reserveCall(
  store: SwarmStore,
  pricing: Pricing,
  swarmId: string,
  call: { model: string; inputTokens: number; maxTokens: number },
): Promise<CallGrant | { need: { tokens: number; usd: number } }> {
  const inputUsd = pricing(call.model, { inputTokens: call.inputTokens, outputTokens: 0 });
  const usdPerOutputToken = pricing(call.model, { inputTokens: 0, outputTokens: 1 });
  const minOutputTokens = Math.min(call.maxTokens, MIN_OUTPUT_TOKENS);
  const granted = await store.reserveCall(swarmId, {
    inputTokens: call.inputTokens,
    inputUsd,
    maxOutputTokens: call.maxTokens,
    minOutputTokens,
    usdPerOutputToken,
  });
  if (granted <= 0)
    return {
      need: {
        tokens: call.inputTokens + minOutputTokens,
        usd: inputUsd + minOutputTokens * usdPerOutputToken,
      },
    };
  return {
    maxTokens: granted,
    release: () =>
      store.releaseBudget(
        swarmId,
        call.inputTokens + granted,
        inputUsd + granted * usdPerOutputToken,
      ),
  };
}
