// Sends one webhook request; the engine decides what to send, when to retry, and records it.

export interface WebhookTransport {
  post(
    url: string,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number }>;
}
