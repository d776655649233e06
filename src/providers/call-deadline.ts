// One deadline per provider call: links the caller's AbortSignal with the call's overall timeout
// (retries included) and remembers which of the two ended the call, so 'aborted' and 'timeout'
// are reported apart even though both surface from the SDKs as the same abort.

import { ProviderError } from '../ports/provider.js';

export type CutShortReason = 'aborted' | 'timeout';

export interface CallDeadline {
  /** Aborts when the caller aborts or the timeout expires, whichever comes first. */
  readonly signal: AbortSignal;
  /** Which of the two ended the call, if either did. */
  reason(): CutShortReason | undefined;
  /** Clears the timer and the listener on the caller's signal. */
  dispose(): void;
}

export function startCallDeadline(callerSignal: AbortSignal, timeoutMs: number): CallDeadline {
  const controller = new AbortController();
  let cutShort: CutShortReason | undefined;
  const end = (why: CutShortReason, reason: unknown) => {
    if (cutShort !== undefined) return;
    cutShort = why;
    controller.abort(reason);
  };
  const onAbort = () => end('aborted', callerSignal.reason);
  const timer = setTimeout(
    () => end('timeout', new Error(`call timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  if (callerSignal.aborted) onAbort();
  else callerSignal.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    reason: () => cutShort,
    dispose() {
      clearTimeout(timer);
      callerSignal.removeEventListener('abort', onAbort);
    },
  };
}

/** The ProviderError for a call the caller aborted or the deadline ended. */
export function cutShortError(
  reason: CutShortReason,
  provider: string,
  timeoutMs: number,
  attempts: number,
  cause?: unknown,
): ProviderError {
  const message =
    reason === 'aborted'
      ? `${provider}: call aborted`
      : `${provider}: no answer within ${timeoutMs} ms`;
  return new ProviderError(reason, message, { provider, attempts }, { cause });
}
