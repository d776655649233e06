// The OpenAPI 3.1 document of the HTTP API, generated from the same zod schemas that validate
// requests, so the documentation cannot drift from what the service accepts.
import { z } from 'zod';
import { createBackupBody, maintenanceBody, restoreBody } from './routes/admin.js';
import { addBlockBody } from './routes/blocklist.js';
import { createKeyBody } from './routes/keys.js';
import { createSwarmBody, decisionBody } from './routes/swarms.js';

type Json = Record<string, unknown>;

const schemaOf = (s: z.ZodType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, {
    io: 'input',
    unrepresentable: 'any',
  }) as Json;
  return rest;
};

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: {
        code: { type: 'string', examples: ['VALIDATION_FAILED', 'UNAUTHORIZED', 'NOT_FOUND'] },
        message: { type: 'string' },
        requestId: { type: 'string' },
        details: { type: 'object' },
      },
    },
  },
};

const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      {
        description: 'Error',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    ]),
  );

const json = (description: string, schema: Json = { type: 'object' }) => ({
  description,
  content: { 'application/json': { schema } },
});

const body = (s: z.ZodType) => ({
  required: true,
  content: { 'application/json': { schema: schemaOf(s) } },
});

const secured = [{ bearer: [] }];

/** A long operation: progress lines, then the result or an error in the JSON error shape. */
const ndjson = (description: string) => ({
  description:
    `${description}, streamed as application/x-ndjson: {"progress":{"phase","bytes"}} lines while it ` +
    'runs (one every few seconds at least), then {"result":…} or {"error":{"code","message","requestId"}}',
  content: { 'application/x-ndjson': { schema: { type: 'object' } } },
});
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', format: 'uuid' },
};

export function buildOpenApiDocument(version: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Claude Flow Novice API',
      version,
      description:
        'Runs swarms of AI agents through the CFN Loop. Every error is {"error":{"code","message","requestId"}}.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key (cfn keys create)' },
      },
      schemas: { Error: errorSchema },
    },
    paths: {
      '/health': {
        get: {
          summary: 'Health with dependency checks',
          responses: { 200: json('Healthy'), 503: json('A check failed') },
        },
      },
      '/health/live': {
        get: { summary: 'Liveness (process only)', responses: { 200: json('Alive') } },
      },
      '/health/ready': {
        get: {
          summary: 'Readiness (dependencies, not shutting down)',
          responses: { 200: json('Ready'), 503: json('Not ready') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus exposition (bearer METRICS_TOKEN when set)',
          responses: { 200: { description: 'text/plain exposition' }, ...errors(401) },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document', responses: { 200: json('OpenAPI 3.1') } },
      },
      '/api/whoami': {
        get: {
          summary: 'The calling key (viewer)',
          security: secured,
          responses: { 200: json('Key'), ...errors(401) },
        },
      },
      '/api/keys': {
        get: {
          summary: 'List keys (admin)',
          security: secured,
          responses: { 200: json('Keys'), ...errors(401, 403) },
        },
        post: {
          summary: 'Create a key; the secret is returned once (admin)',
          security: secured,
          requestBody: body(createKeyBody),
          responses: { 201: json('Created'), ...errors(400, 401, 403, 413) },
        },
      },
      '/api/keys/{id}': {
        delete: {
          summary: 'Revoke a key (admin)',
          security: secured,
          parameters: [idParam],
          responses: { 200: json('Revoked'), ...errors(401, 403, 404) },
        },
      },
      '/api/audit': {
        get: {
          summary: 'Audit log, newest first (admin)',
          security: secured,
          responses: { 200: json('Entries'), ...errors(401, 403) },
        },
      },
      '/api/admin/backups': {
        get: {
          summary: 'Backups in the target, newest first, with their last verification (admin)',
          security: secured,
          parameters: [
            {
              name: 'type',
              in: 'query',
              required: false,
              schema: { type: 'string', enum: ['database', 'app-data'] },
            },
          ],
          responses: { 200: json('Backups'), ...errors(400, 401, 403) },
        },
        post: {
          summary: 'Create a backup into the target (admin, audited)',
          security: secured,
          requestBody: body(createBackupBody),
          responses: { 200: ndjson('The manifest'), ...errors(400, 401, 403, 409) },
        },
      },
      '/api/admin/restore': {
        post: {
          summary:
            'Restore a database backup (an id, latest, or a dump file the service can read): every replica ' +
            'acknowledges maintenance first; with dryRun only checks the backup and says what would be discarded (admin, audited)',
          security: secured,
          requestBody: body(restoreBody),
          responses: {
            200: ndjson('The restore report (with dryRun: the plan, as plain JSON)'),
            ...errors(400, 401, 403, 404, 409),
          },
        },
      },
      '/api/admin/maintenance': {
        get: {
          summary: 'Maintenance mode and the replicas running (admin)',
          security: secured,
          responses: { 200: json('Maintenance and replicas'), ...errors(401, 403) },
        },
        put: {
          summary:
            'Maintenance on; answers once every live replica acknowledged it, 503 naming those that did not (admin, audited)',
          security: secured,
          requestBody: body(maintenanceBody),
          responses: { 200: json('Maintenance and replicas'), ...errors(400, 401, 403, 503) },
        },
        delete: {
          summary: 'Maintenance off; answers once every replica resumed (admin, audited)',
          security: secured,
          responses: { 200: json('Maintenance and the service status'), ...errors(401, 403) },
        },
      },
      '/api/admin/blocklist': {
        get: {
          summary:
            'Client addresses blocked now, automatic (failed authentications) and manual, with their expiry (admin)',
          security: secured,
          responses: { 200: json('Blocks in force'), ...errors(401, 403) },
        },
        post: {
          summary:
            'Block an address for durationSeconds with a reason; replaces its manual entry (admin, audited)',
          security: secured,
          requestBody: body(addBlockBody),
          responses: { 201: json('The manual entry'), ...errors(400, 401, 403) },
        },
      },
      '/api/admin/blocklist/{address}': {
        delete: {
          summary: 'Lift the manual entry and the automatic block of an address (admin, audited)',
          security: secured,
          parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: json('What was lifted'), ...errors(401, 403, 404) },
        },
      },
      '/api/agents': {
        get: {
          summary: 'Agent definitions (viewer)',
          security: secured,
          responses: { 200: json('Agents'), ...errors(400, 401) },
        },
      },
      '/api/agents/{name}': {
        get: {
          summary: 'One agent definition (viewer)',
          security: secured,
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: json('Agent'), ...errors(401, 404) },
        },
      },
      '/api/swarms': {
        get: {
          summary: 'List swarms, newest first, cursor pagination (viewer)',
          security: secured,
          responses: { 200: json('Page'), ...errors(400, 401) },
        },
        post: {
          summary: 'Submit a swarm; persisted before the 202 (operator)',
          security: secured,
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'Retry-safe submission: the same key and body from the same caller return the first swarm (with Idempotent-Replayed: true)',
              schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[ -~]+$' },
            },
          ],
          requestBody: body(createSwarmBody),
          responses: { 202: json('Accepted'), ...errors(400, 401, 403, 413, 415, 422, 429) },
        },
      },
      '/api/swarms/{id}': {
        get: {
          summary: 'A swarm: state, iterations, tasks, scores, decision, tokens, cost (viewer)',
          security: secured,
          parameters: [idParam],
          responses: { 200: json('Swarm'), ...errors(401, 404) },
        },
      },
      '/api/swarms/{id}/events': {
        get: {
          summary: 'Server-Sent Events; replay with Last-Event-ID (viewer)',
          security: secured,
          parameters: [
            idParam,
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              schema: { type: 'integer', minimum: 0 },
            },
          ],
          responses: {
            200: {
              description:
                'text/event-stream: id = event seq, event = type, data = JSON; last event `end` {reason, lastSeq}',
            },
            ...errors(400, 401, 404, 429),
          },
        },
      },
      '/api/swarms/{id}/cancel': {
        post: {
          summary: 'Cancel: aborts calls in flight (operator)',
          security: secured,
          parameters: [idParam],
          responses: { 202: json('Cancelling'), ...errors(401, 403, 404, 409) },
        },
      },
      '/api/swarms/{id}/decision': {
        post: {
          summary: 'A human product owner decides (operator)',
          security: secured,
          parameters: [idParam],
          requestBody: body(decisionBody),
          responses: { 200: json('Decided'), ...errors(400, 401, 403, 404, 409) },
        },
      },
    },
  };
}
