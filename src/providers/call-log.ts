// One log line per LLM call, whatever the provider: `llm call` at debug when it answers, `llm call
// failed` at warn when it fails (`llm call aborted` at info when we cut it short ourselves), with
// the provider, model, HTTP status or error kind, duration, tokens and the journal key the engine
// sends. Never the prompt, the answer or the provider's key.
import type { Logger } from '../ports/logger.js';
import { ProviderError, type CompletionRequest, type Provider } from '../ports/provider.js';

/** Provider error messages can quote the remote answer: kept short. */
const MAX_ERROR_CHARS = 300;

function header(request: CompletionRequest, name: string): string | undefined {
  for (const [key, value] of Object.entries(request.headers ?? {}))
    if (key.toLowerCase() === name) return value;
  return undefined;
}

function errorText(err: unknown, secrets: readonly string[]): string {
  let text = err instanceof Error ? err.message : String(err);
  for (const secret of secrets) text = text.split(secret).join('[REDACTED]');
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

/** Wraps `provider.complete` with its log lines; `secrets` (the API key) never reach them. */
export function withCallLog(
  provider: Provider,
  logger: Logger,
  secrets: readonly string[] = [],
): Provider {
  const known = secrets.filter((s) => s.length >= 4);
  return {
    ...provider,
    async complete(request) {
      const started = performance.now();
      const fields = () => ({
        provider: provider.name,
        providerKind: provider.kind,
        // The journal key, `<swarm>/<task>/llm/<round>`: it finds the call in agent_calls.
        callKey: header(request, 'x-cfn-call-key'),
        requestId: header(request, 'x-request-id'),
        durationMs: Math.round((performance.now() - started) * 100) / 100,
      });
      try {
        const result = await provider.complete(request);
        if (logger.isLevelEnabled?.('debug') === false) return result;
        logger.debug(
          {
            ...fields(),
            model: result.model || (request.model ?? provider.defaultModel),
            inputTokens: result.usage.inputTokens,
            outputTokens: result.usage.outputTokens,
            attempts: result.attempts,
            stopReason: result.stopReason,
          },
          'llm call',
        );
        return result;
      } catch (err) {
        const failure = err instanceof ProviderError ? err : undefined;
        const line = {
          ...fields(),
          model: request.model ?? provider.defaultModel,
          errorKind: failure?.kind ?? 'unknown',
          ...(failure?.details.status !== undefined ? { status: failure.details.status } : {}),
          ...(failure?.details.attempts !== undefined
            ? { attempts: failure.details.attempts }
            : {}),
          error: errorText(err, known),
        };
        if (failure?.kind === 'aborted') logger.info(line, 'llm call aborted');
        else logger.warn(line, 'llm call failed');
        throw err;
      }
    },
  };
}
