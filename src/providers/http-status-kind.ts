// Which ProviderError kind an HTTP status from an LLM API means, shared by the HTTP adapters so
// that the engine's retry and reporting policy sees the same kinds whatever the wire format.

import type { ProviderErrorKind } from '../ports/provider.js';

export function kindForStatus(status: number): ProviderErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 408) return 'timeout';
  if (status === 429) return 'rate_limited';
  // 409 is a lock/conflict the APIs ask clients to retry: transient, like a 5xx.
  if (status >= 500 || status === 409) return 'server';
  if (status >= 400) return 'bad_request';
  return 'invalid_response';
}
