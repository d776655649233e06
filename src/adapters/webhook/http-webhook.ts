// WebhookTransport over HTTP(S) with fetch; redirects are not followed (a signed payload goes
// only where it was configured to go).
import type { WebhookTransport } from '../../ports/webhook-transport.js';

export function createHttpWebhookTransport(): WebhookTransport {
  return {
    async post(url, body, headers, timeoutMs) {
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'claude-flow-novice-webhook',
          ...headers,
        },
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      return { status: res.status };
    },
  };
}
