// The agent catalogue, read-only (viewer): the list with an optional role filter, and one agent's
// full definition including its system prompt. The loaded catalogue is read on every request.
import { Router } from 'express';
import { z } from 'zod';
import { AGENT_ROLES, type AgentDefinition } from '../../domain/agent-definition.js';
import { NotFoundError } from '../../domain/errors.js';
import type { RouteKit } from '../route-kit.js';
import { parseQuery } from '../validate.js';

const listAgentsQuery = z.object({
  role: z.enum(AGENT_ROLES).optional(),
});

export function agentSummaryView(a: AgentDefinition) {
  return {
    name: a.name,
    description: a.description,
    role: a.role,
    tools: a.tools,
    provider: a.provider ?? null,
    model: a.model ?? null,
    source: a.source,
  };
}

export function agentView(a: AgentDefinition) {
  return {
    ...agentSummaryView(a),
    temperature: a.temperature ?? null,
    maxTokens: a.maxTokens ?? null,
    timeoutMs: a.timeoutMs ?? null,
    systemPrompt: a.systemPrompt,
  };
}

export function agentRoutes(
  agents: () => ReadonlyMap<string, AgentDefinition>,
  { auth, cached }: RouteKit,
): Router {
  const router = Router();

  router.get('/api/agents', auth.requireRole('viewer'), cached('/api/agents'), (req, res) => {
    const { role } = parseQuery(req, listAgentsQuery);
    const items = [...agents().values()]
      .filter((a) => role === undefined || a.role === role)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(agentSummaryView);
    res.json({ items });
  });

  router.get(
    '/api/agents/:name',
    auth.requireRole('viewer'),
    cached('/api/agents/:name'),
    (req, res) => {
      const name = String(req.params.name);
      const agent = agents().get(name);
      if (!agent) throw new NotFoundError('agent', name);
      res.json(agentView(agent));
    },
  );

  return router;
}
