// A provider's fetch under its flow control (src/providers/flow-control.ts): each HTTP request
// waits for a permit and holds it until its answer is read (an event stream: until it ends), a
// 429 starts the backoff every caller shares and the request is sent again once it is over — the
// SDK's own retries stay for real failures — and what the call cost corrects the token estimate.
import { retryAfterMs, type FlowControl } from './flow-control.js';

type Fetch = typeof globalThis.fetch;

/** Set on a request's init by the attempt counter: called for every extra send of the request. */
export const ON_RESEND = Symbol('cfn.onResend');
type Init = RequestInit & { [ON_RESEND]?: () => void };

/** Sends again after a 429 at most this often before the SDK sees the 429 itself. */
const MAX_RESENDS = 8;
/** A longer Retry-After (a quota, not a rate) goes back to the caller at once. */
const MAX_WAIT_MS = 60_000;

/** Estimated input tokens (four characters each) plus the answer the request allows. */
export function estimateRequestTokens(body: unknown): number {
  if (typeof body !== 'string') return 0;
  const max = /"max_(?:completion_)?tokens"\s*:\s*(\d+)/.exec(body);
  return Math.ceil(body.length / 4) + (max ? Number(max[1]) : 0);
}

/** The tokens a JSON answer reports (Anthropic's or OpenAI's usage), if it does. */
function reportedTokens(json: unknown): number | undefined {
  const usage = (json as { usage?: Record<string, unknown> } | null)?.usage;
  if (!usage || typeof usage !== 'object') return undefined;
  const n = (k: string) => (typeof usage[k] === 'number' ? usage[k] : 0);
  const total =
    n('input_tokens') +
    n('output_tokens') +
    n('cache_creation_input_tokens') +
    n('cache_read_input_tokens') +
    n('prompt_tokens') +
    n('completion_tokens');
  return total > 0 ? total : undefined;
}

function abortError(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && (reason.name === 'AbortError' || reason.name === 'TimeoutError'))
    return reason;
  return new DOMException('This operation was aborted', 'AbortError');
}

export function limitFetch(base: Fetch, flow: FlowControl, countTokens: boolean): Fetch {
  return async function limitedFetch(input, init: Init = {}) {
    const estimate = countTokens ? estimateRequestTokens(init.body) : 0;
    for (let sent = 0; ; sent++) {
      const signal = init.signal ?? undefined;
      const permit = await flow.acquire(estimate, signal).catch((err: unknown) => {
        throw signal?.aborted ? abortError(signal) : err;
      });
      if (sent > 0) init[ON_RESEND]?.();
      let res: Response;
      try {
        res = await base(input, init);
      } catch (err) {
        permit.release('other');
        throw err;
      }
      if (res.status === 429) {
        const wait = retryAfterMs((name) => res.headers.get(name));
        permit.refused(wait);
        if (sent < MAX_RESENDS && (wait ?? 0) <= MAX_WAIT_MS && !signal?.aborted) {
          await res.text().catch(() => undefined);
          continue;
        }
        return res;
      }
      return holdUntilRead(
        res,
        (used) => permit.release(res.ok ? 'ok' : 'other', used),
        countTokens,
      );
    }
  };
}

/** Releases the permit once the answer is read: buffered at once, a stream when it ends. */
function holdUntilRead(
  res: Response,
  release: (usedTokens?: number) => void,
  countTokens: boolean,
): Response {
  if (res.body === null) {
    if (!countTokens || !res.ok) {
      release();
      return res;
    }
    // Our buffered responses (src/providers/provider-fetch.ts) clone without copying the text.
    res
      .clone()
      .json()
      .then(
        (json) => release(reportedTokens(json)),
        () => release(),
      );
    return res;
  }
  const reader = res.body.getReader();
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    release();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          finish();
          controller.close();
        } else controller.enqueue(chunk.value);
      } catch (err) {
        finish();
        controller.error(err);
      }
    },
    async cancel(reason) {
      finish();
      await reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}
