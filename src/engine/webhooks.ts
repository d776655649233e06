// Completion webhooks: a signed JSON payload (X-CFN-Signature: sha256=<HMAC of the body>),
// retried with exponential backoff, every attempt recorded in webhook_deliveries.
import { createHmac } from 'node:crypto';
import type { Logger } from '../ports/logger.js';
import type { SwarmStore } from '../ports/swarm-store.js';
import type { TaskQueue } from '../ports/task-queue.js';
import type { WebhookTransport } from '../ports/webhook-transport.js';

export interface WebhookDeps {
  store: SwarmStore;
  queue: TaskQueue;
  transport: WebhookTransport;
  secret: string | undefined;
  logger: Logger;
  maxAttempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
}

export function signWebhook(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function createWebhookHandler(deps: WebhookDeps) {
  const maxAttempts = deps.maxAttempts ?? 6;
  const baseDelay = deps.baseDelayMs ?? 1000;
  return async function deliverWebhook({
    swarmId,
    attempt = 1,
  }: {
    swarmId: string;
    attempt?: number;
  }): Promise<void> {
    const swarm = await deps.store.get(swarmId);
    const url = swarm?.spec.webhookUrl;
    if (!swarm || !url || !deps.secret) return;
    const body = JSON.stringify({
      event: 'swarm.completed',
      swarm: {
        id: swarm.id,
        objective: swarm.objective,
        strategy: swarm.strategy,
        mode: swarm.mode,
        status: swarm.status,
        decision: swarm.decision,
        reason: swarm.reason,
        iterations: swarm.iteration,
        tokens: { input: swarm.inputTokens, output: swarm.outputTokens },
        costUsd: swarm.costUsd,
        completedAt: swarm.completedAt?.toISOString() ?? null,
      },
    });
    const started = Date.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      statusCode = (
        await deps.transport.post(
          url,
          body,
          {
            'x-cfn-event': 'swarm.completed',
            'x-cfn-delivery': `${swarmId}:${attempt}`,
            'x-cfn-signature': signWebhook(deps.secret, body),
          },
          deps.timeoutMs ?? 10_000,
        )
      ).status;
      if (statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    await deps.store.recordWebhookDelivery({
      swarmId,
      url,
      event: 'swarm.completed',
      attempt,
      statusCode,
      error,
      durationMs: Date.now() - started,
    });
    if (!error) return;
    if (attempt >= maxAttempts) {
      deps.logger.warn(
        { swarmId, requestId: swarm.spec.requestId, attempt, error },
        'webhook delivery failed for good',
      );
      return;
    }
    await deps.queue.enqueue(
      'webhook.deliver',
      { swarmId, attempt: attempt + 1 },
      { group: swarmId, delayMs: baseDelay * 2 ** (attempt - 1) },
    );
  };
}
