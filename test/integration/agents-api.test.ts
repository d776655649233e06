// GET /api/agents on a minimal app: the agent router behind the real auth (API keys on an
// in-memory PGlite), request ids and error handler; list, role filter, show, 404, 401 and 400.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgApiKeyStore } from '../../src/adapters/db/api-key-store.js';
import { createPgAuditedWrites } from '../../src/adapters/db/audited-writes.js';
import { openDatabase, type Database } from '../../src/adapters/db/database.js';
import { migrateDatabase } from '../../src/adapters/db/migrate.js';
import { BUILTIN_AGENTS_DIR, loadAgents } from '../../src/agents/load-agents.js';
import type { AgentDefinition } from '../../src/domain/agent-definition.js';
import { errorHandler, notFound } from '../../src/http/error-handler.js';
import { createAuth } from '../../src/http/middleware/auth.js';
import { requestId } from '../../src/http/middleware/request-id.js';
import type { RouteKit } from '../../src/http/route-kit.js';
import { agentRoutes } from '../../src/http/routes/agents.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { SYSTEM_ACTOR, createApiKeyService } from '../../src/ops/api-keys.js';
import { captureLogs } from '../support/log-capture.js';

let database: Database;
let server: Server;
let baseUrl: string;
let viewerKey: string;
let catalogue: Map<string, AgentDefinition>;

beforeAll(async () => {
  const logs = captureLogs();
  const logger = createLogger({ level: 'debug', version: 'test', destination: logs.stream });
  database = await openDatabase({ dataDir: 'memory://', logger });
  await migrateDatabase(database);
  const apiKeys = createApiKeyService({
    keys: createPgApiKeyStore(database.db),
    writes: createPgAuditedWrites(database.db),
  });
  viewerKey = (await apiKeys.create({ name: 'viewer', role: 'viewer' }, SYSTEM_ACTOR)).key;

  const loaded = await loadAgents({ builtinDir: BUILTIN_AGENTS_DIR });
  expect(loaded.problems).toEqual([]);
  catalogue = loaded.agents;

  const metrics = createMetrics({ version: 'test', commit: 'test', dataDir: os.tmpdir() });
  const kit: RouteKit = {
    auth: createAuth({ apiKeys, metrics, logger }),
    json: express.json(),
    // No response cache in this app: cacheable routes pass straight through.
    cached: () => (_req, _res, next) => next(),
    invalidate: async () => {},
  };
  const app = express();
  app.use(requestId());
  app.use('/api', kit.auth.authenticate);
  app.use(agentRoutes(() => catalogue, kit));
  app.use(notFound());
  app.use(errorHandler(logger));
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await database?.close();
});

function get(pathname: string, key: string | null = viewerKey) {
  return fetch(baseUrl + pathname, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
}

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as {
    error: { code: string; message: string; requestId: string };
  };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.requestId).toBe(res.headers.get('x-request-id'));
  return body.error;
}

interface Item {
  name: string;
  description: string;
  role: string;
  tools: string[];
  provider: string | null;
  model: string | null;
  source: string;
}

describe('GET /api/agents', () => {
  it('lists every agent, sorted by name, without system prompts', async () => {
    const res = await get('/api/agents');
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: Item[] };
    const names = items.map((i) => i.name);
    expect(names).toEqual([...catalogue.keys()].sort());
    expect(names).toHaveLength(11);
    expect(items.find((i) => i.name === 'coder')).toEqual({
      name: 'coder',
      description: catalogue.get('coder')?.description,
      role: 'implementer',
      tools: ['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep'],
      provider: null,
      model: 'sonnet',
      source: 'builtin',
    });
  });

  it('filters by role', async () => {
    const res = await get('/api/agents?role=validator');
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: Item[] };
    expect(items.map((i) => i.name)).toEqual(['reviewer', 'security-specialist']);
    const po = (await (await get('/api/agents?role=product-owner')).json()) as { items: Item[] };
    expect(po.items.map((i) => i.name)).toEqual(['product-owner']);
  });

  it('rejects an unknown role with 400 naming the parameter', async () => {
    const error = await expectError(await get('/api/agents?role=boss'), 400, 'VALIDATION_FAILED');
    expect(JSON.stringify(error)).toContain('role');
    await expectError(await get('/api/agents?role=a&role=b'), 400, 'VALIDATION_FAILED');
  });

  it('reads the catalogue on every request', async () => {
    const previous = catalogue;
    catalogue = new Map([...previous].filter(([name]) => name !== 'coder'));
    try {
      const { items } = (await (await get('/api/agents')).json()) as { items: Item[] };
      expect(items.map((i) => i.name)).not.toContain('coder');
    } finally {
      catalogue = previous;
    }
  });

  it('refuses a request without a key (401) or with an unknown key (401)', async () => {
    await expectError(await get('/api/agents', null), 401, 'UNAUTHORIZED');
    await expectError(await get('/api/agents/coder', 'cfn_not-a-key'), 401, 'UNAUTHORIZED');
  });
});

describe('GET /api/agents/:name', () => {
  it('shows the full definition including the system prompt', async () => {
    const res = await get('/api/agents/product-owner');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    const def = catalogue.get('product-owner');
    expect(body).toEqual({
      name: 'product-owner',
      description: def?.description,
      role: 'product-owner',
      tools: def?.tools,
      provider: null,
      model: 'sonnet',
      source: 'builtin',
      temperature: null,
      maxTokens: null,
      timeoutMs: null,
      systemPrompt: def?.systemPrompt,
    });
    expect(body.systemPrompt).toContain('"decision"');
  });

  it('answers 404 in the JSON error shape for an unknown agent', async () => {
    const error = await expectError(await get('/api/agents/no-such-agent'), 404, 'NOT_FOUND');
    expect(error.message).toBe('agent no-such-agent not found');
  });
});
