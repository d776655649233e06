// A loopback webhook sink that speaks enough of Slack's incoming-webhook and PagerDuty's Events
// API v2 wire formats for Alertmanager's slack_configs and pagerduty_configs, and records every post.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackPost {
  kind: 'slack';
  /** The receiver name, from the path /slack/<receiver>. */
  receiver: string;
  at: number;
  body: {
    channel?: string;
    attachments: Array<{ title?: string; text?: string; color?: string }>;
  };
}

export interface PagerDutyEvent {
  kind: 'pagerduty';
  receiver: string;
  at: number;
  body: {
    routing_key: string;
    event_action: 'trigger' | 'acknowledge' | 'resolve';
    dedup_key?: string;
    payload?: {
      summary: string;
      source: string;
      severity: string;
      custom_details?: Record<string, unknown>;
    };
  };
}

export type SinkPost = SlackPost | PagerDutyEvent;

export interface WebhookSink {
  url: string;
  posts: SinkPost[];
  /** Posts that were refused as malformed (a test should expect none). */
  rejected: Array<{ path: string; reason: string; raw: string }>;
  /** Resolves with the first post matching `predicate`, re-checked on every post. */
  waitFor<T extends SinkPost>(
    predicate: (p: SinkPost) => p is T,
    timeoutMs: number,
    what: string,
  ): Promise<T>;
  close(): Promise<void>;
}

function reply(res: http.ServerResponse, status: number, body: string, type = 'text/plain') {
  res.writeHead(status, { 'content-type': type }).end(body);
}

export async function startWebhookSink(): Promise<WebhookSink> {
  const posts: SinkPost[] = [];
  const rejected: WebhookSink['rejected'] = [];
  const listeners = new Set<() => void>();

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const path = req.url ?? '/';
      const refuse = (status: number, reason: string, body: string, type?: string) => {
        rejected.push({ path, reason, raw });
        reply(res, status, body, type);
      };
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        return refuse(400, 'not JSON', 'invalid_payload');
      }
      const slack = path.match(/^\/slack\/([\w-]+)$/);
      const pager = path.match(/^\/pagerduty\/([\w-]+)$/);
      if (req.method !== 'POST' || (!slack && !pager))
        return refuse(404, 'unknown path', 'no_service');
      if (slack) {
        // Slack answers 200 "ok", or 400 "no_text" for a message without text or attachments.
        const b = body as SlackPost['body'];
        if (!Array.isArray(b.attachments) || b.attachments.length === 0)
          return refuse(400, 'no attachments', 'no_text');
        posts.push({ kind: 'slack', receiver: slack[1]!, at: Date.now(), body: b });
        reply(res, 200, 'ok');
      } else {
        // PagerDuty Events v2: 202 {status, message, dedup_key}; 400 for an invalid event.
        const b = body as PagerDutyEvent['body'];
        const invalid =
          typeof b.routing_key !== 'string' || b.routing_key.length === 0
            ? 'routing_key missing'
            : !['trigger', 'acknowledge', 'resolve'].includes(b.event_action)
              ? 'event_action invalid'
              : b.event_action === 'trigger' &&
                  !(b.payload?.summary && b.payload.source && b.payload.severity)
                ? 'payload.summary, source and severity are required'
                : undefined;
        if (invalid) {
          return refuse(
            400,
            invalid,
            JSON.stringify({
              status: 'invalid event',
              message: 'Event object is invalid',
              errors: [invalid],
            }),
            'application/json',
          );
        }
        posts.push({ kind: 'pagerduty', receiver: pager![1]!, at: Date.now(), body: b });
        reply(
          res,
          202,
          JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: b.dedup_key }),
          'application/json',
        );
      }
      for (const l of listeners) l();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    posts,
    rejected,
    waitFor(predicate, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = posts.find(predicate);
          if (hit) {
            done();
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no ${what} within ${timeoutMs} ms; received: ${JSON.stringify(posts.map(describePost))}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A one-line description of a post, for failure messages. */
export function describePost(p: SinkPost): string {
  return p.kind === 'slack'
    ? `slack/${p.receiver}: ${p.body.attachments[0]?.title ?? ''}`
    : `pagerduty/${p.receiver}: ${p.body.event_action} ${p.body.payload?.summary ?? p.body.dedup_key ?? ''}`;
}
