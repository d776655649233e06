// The swarm API: submit, list, show, follow (SSE, replayable with Last-Event-ID: swarm-events.ts),
// cancel, and a human product owner's decision. Every mutation is persisted before the answer.
import path from 'node:path';
import { Router } from 'express';
import { z } from 'zod';
import type { AgentDefinition } from '../../domain/agent-definition.js';
import { AppError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { findWorkspaceConflict } from '../../domain/workspace-claims.js';
import { DECISIONS, MODES, MODE_RULES, STRATEGIES } from '../../domain/cfn/modes.js';
import type { SwarmSpec, ValidatorSpec } from '../../domain/cfn/spec.js';
import type { SwarmState } from '../../domain/cfn/state.js';
import type { SwarmEngine } from '../../engine/swarm-engine.js';
import type { EventBus } from '../../ports/event-bus.js';
import {
  ExistingSubmissionError,
  type SwarmRecord,
  type SwarmStore,
  type SwarmSummary,
} from '../../ports/swarm-store.js';
import { IDEMPOTENCY_HEADER, idempotencyKeyOf, requestHash } from '../idempotency.js';
import { principalOf } from '../middleware/auth.js';
import type { RouteKit } from '../route-kit.js';
import { sharedPerTick } from '../shared-per-tick.js';
import { parseBody, parseQuery } from '../validate.js';
import { DEFAULT_STREAM_LIMITS, createEventStreams, type StreamLimits } from './swarm-events.js';
import { decodeSwarmCursor } from '../../domain/swarm-cursor.js';

export interface SwarmRoutesDeps {
  engine: SwarmEngine;
  store: SwarmStore;
  bus: EventBus;
  agents: () => ReadonlyMap<string, AgentDefinition>;
  /** Throws with a clear message when no configured provider can serve `name`. */
  checkProvider: (name: string | undefined) => void;
  /** Directories a swarm workspace may be in; the first is where relative paths resolve. */
  workspaceRoots: readonly string[];
  commandTimeoutMs: number;
  /** Completion webhooks need CFN_WEBHOOK_SECRET to sign them. */
  webhooksEnabled: boolean;
  /** Limits of event streams (defaults: DEFAULT_STREAM_LIMITS). */
  streams?: Partial<StreamLimits>;
  /**
   * The real path of a workspace inside the roots, or throws saying why not (a symbolic link on
   * the way, a root itself). Given by src/main (it touches the filesystem).
   */
  confineWorkspace: (resolved: string, roots: readonly string[]) => string;
  /** Real paths of directories several unfinished swarms may use (CFN_SHARED_WORKSPACES). */
  sharedWorkspaces: readonly string[];
  /** Whether a swarm may ask for `"network": true` (CFN_SANDBOX_NETWORK=allow). */
  networkAllowed: boolean;
  /** Open event streams register here; shutdown ends them so the server can close. */
  openStreams?: Set<() => void>;
}

const agentName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'an agent name (kebab-case)');

export const createSwarmBody = z.strictObject({
  objective: z.string().trim().min(1).max(20_000),
  strategy: z.enum(STRATEGIES).default('cfn-loop'),
  mode: z.enum(MODES).default('standard'),
  agents: z.array(agentName).min(1).max(20).optional(),
  validators: z
    .array(
      z.union([
        agentName,
        z.strictObject({ agent: agentName }),
        z.strictObject({
          command: z.string().trim().min(1).max(2000),
          timeoutMs: z.number().int().min(1000).max(3_600_000).optional(),
        }),
      ]),
    )
    .max(20)
    .optional(),
  productOwner: agentName.optional(),
  coordinator: agentName.optional(),
  workspace: z.string().min(1).max(4096).optional(),
  network: z.boolean().optional(),
  budget: z
    .strictObject({
      maxTokens: z.number().int().min(1).max(1e10).optional(),
      maxCostUsd: z.number().positive().max(1e6).optional(),
    })
    .optional(),
  approval: z.enum(['auto', 'human']).default('auto'),
  webhookUrl: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .optional(),
  maxIterations: z.number().int().min(1).max(50).optional(),
});
export type CreateSwarmBody = z.infer<typeof createSwarmBody>;

export const decisionBody = z.strictObject({
  decision: z.enum(DECISIONS),
  feedback: z.string().max(20_000).default(''),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .refine(
      (c) => decodeSwarmCursor(c) !== undefined,
      'not a cursor this service gave (use nextCursor of the previous page)',
    )
    .optional(),
  status: z
    .enum([
      'queued',
      'running',
      'awaiting_decision',
      'completed',
      'aborted',
      'exhausted',
      'failed',
      'cancelled',
      'budget_exceeded',
    ])
    .optional(),
  strategy: z.enum(STRATEGIES).optional(),
});

function recordView(r: SwarmSummary) {
  return {
    id: r.id,
    objective: r.objective,
    strategy: r.strategy,
    mode: r.mode,
    status: r.status,
    iteration: r.iteration,
    decision: r.decision,
    reason: r.reason,
    tokens: { input: r.inputTokens, output: r.outputTokens },
    costUsd: r.costUsd,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    completedAt: r.completedAt?.toISOString() ?? null,
  };
}

function stateView(s: SwarmState) {
  return {
    iterations: s.iterations.map((it) => ({
      iteration: it.n,
      feedback: it.feedback,
      gate: it.gate ?? null,
      deliverable: it.deliverable ?? null,
      consensus: it.consensus ?? null,
      decision: it.decision ?? null,
      awaitingDecision: it.decisionRequested && !it.decision,
      tasks: it.tasks.map((t) => ({
        taskId: t.taskId,
        phase: t.phase,
        slot: t.slot,
        attempt: t.attempt,
        agent: t.agent ?? null,
        command: t.command ?? null,
        status: t.status,
        output: t.output ? { ...t.output, text: undefined } : null,
        reason: t.reason ?? null,
        tokens: t.tokens,
        costUsd: t.costUsd,
      })),
    })),
    playbook: s.playbook ?? null,
    spec: s.spec,
  };
}

export function swarmRoutes(deps: SwarmRoutesDeps, kit: RouteKit): Router {
  const { auth, json } = kit;
  const router = Router();
  const streams = createEventStreams({
    store: deps.store,
    bus: deps.bus,
    limits: { ...DEFAULT_STREAM_LIMITS, ...deps.streams },
    openStreams: deps.openStreams,
  });
  const idOf = (raw: unknown) => {
    const id = String(raw);
    if (!UUID.test(id)) throw new NotFoundError('swarm', id);
    return id;
  };

  function resolveWorkspace(raw: string): string {
    const roots = deps.workspaceRoots.map((r) => path.resolve(r));
    const resolved = path.resolve(roots[0] ?? '.', raw);
    if (!roots.some((r) => resolved === r || resolved.startsWith(r + path.sep))) {
      throw new ValidationError(
        `workspace must be inside one of: ${roots.join(', ')} (CFN_WORKSPACE_ROOTS)`,
      );
    }
    try {
      return deps.confineWorkspace(resolved, roots);
    } catch (err) {
      throw new ValidationError(`workspace ${raw}: ${(err as Error).message}`);
    }
  }

  /** Refuses (409) a workspace that an unfinished swarm uses, inside or around, unless shared. */
  /**
   * Refuses a workspace an unfinished swarm uses, unless that swarm is the one `retryOf` (a
   * caller's Idempotency-Key) made: a retry then gets that swarm, not a conflict with itself.
   */
  async function checkWorkspaceFree(
    workspace: string,
    retryOf?: { createdBy: string; key: string },
  ): Promise<void> {
    const other = findWorkspaceConflict(
      workspace,
      await deps.store.workspacesInUse(),
      deps.sharedWorkspaces,
    );
    if (!other) return;
    if (retryOf) {
      const first = await deps.store.get(other.swarmId);
      if (first?.createdBy === retryOf.createdBy && first.idempotencyKey === retryOf.key) return;
    }
    throw new AppError(
      'CONFLICT',
      `workspace ${workspace} overlaps the workspace of unfinished swarm ${other.swarmId} (${other.workspace}); ` +
        'wait for it to end, choose another directory, or share it with CFN_SHARED_WORKSPACES',
      { details: { swarmId: other.swarmId, workspace: other.workspace } },
    );
  }

  // Checking a workspace is free and storing the swarm that takes it is one step per process, so
  // two submissions here cannot both take one directory (across API replicas they still can).
  let claiming: Promise<unknown> = Promise.resolve();
  function oneAtATime<T>(step: () => Promise<T>): Promise<T> {
    const next = claiming.then(step, step);
    claiming = next.catch(() => undefined);
    return next;
  }

  function toSpec(b: CreateSwarmBody): SwarmSpec {
    const catalog = deps.agents();
    const agents = b.agents ?? (b.strategy === 'hierarchical' ? ['coder', 'tester'] : ['coder']);
    const validators: ValidatorSpec[] = (
      b.validators ?? (b.strategy === 'cfn-loop' ? ['reviewer'] : [])
    ).map((v) =>
      typeof v === 'string'
        ? { kind: 'agent', agent: v }
        : 'agent' in v
          ? { kind: 'agent', agent: v.agent }
          : {
              kind: 'command',
              command: v.command,
              timeoutMs: v.timeoutMs ?? deps.commandTimeoutMs,
            },
    );
    const coordinator =
      b.strategy === 'hierarchical' ? (b.coordinator ?? 'coordinator') : undefined;
    const named = [
      ...agents,
      ...validators.flatMap((v) => (v.kind === 'agent' ? [v.agent] : [])),
      ...(b.productOwner ? [b.productOwner] : []),
      ...(coordinator ? [coordinator] : []),
    ];
    const unknown = [...new Set(named.filter((n) => !catalog.has(n)))];
    if (unknown.length) {
      throw new ValidationError(`unknown agent(s): ${unknown.join(', ')}; see GET /api/agents`);
    }
    for (const n of new Set(named)) {
      try {
        deps.checkProvider(catalog.get(n)?.provider);
      } catch (err) {
        throw new ValidationError(`agent ${n}: ${(err as Error).message}`);
      }
    }
    if (b.webhookUrl && !deps.webhooksEnabled) {
      throw new ValidationError(
        'webhookUrl needs CFN_WEBHOOK_SECRET on the server (payloads are signed)',
      );
    }
    if (validators.some((v) => v.kind === 'command') && !b.workspace) {
      throw new ValidationError('command validators run in a workspace: set "workspace"');
    }
    if (b.network && !deps.networkAllowed) {
      throw new ValidationError(
        '"network": true is not allowed on this server (CFN_SANDBOX_NETWORK=deny); commands run without network',
      );
    }
    if (b.network && !b.workspace) {
      throw new ValidationError(
        '"network" is for commands, which run in a workspace: set "workspace"',
      );
    }
    const rules = MODE_RULES[b.mode];
    return {
      objective: b.objective,
      strategy: b.strategy,
      mode: b.mode,
      agents,
      validators,
      productOwner: b.productOwner,
      coordinator,
      approval: b.approval,
      workspace: b.workspace ? resolveWorkspace(b.workspace) : undefined,
      ...(b.network ? { network: true } : {}),
      budget: b.budget,
      webhookUrl: b.webhookUrl,
      gate: rules.gate,
      consensus: rules.consensus,
      maxIterations: b.maxIterations ?? rules.maxIterations,
      maxAttempts: 2,
    };
  }

  router.post('/api/swarms', auth.requireRole('operator'), json, async (req, res) => {
    const key = idempotencyKeyOf(req);
    const body = parseBody(req, createSwarmBody);
    const spec = toSpec(body);
    const createdBy = principalOf(res.locals).key.id;
    const idempotency = key === undefined ? undefined : { key, hash: requestHash(body) };
    const submit = () =>
      deps.engine.submit(spec, {
        createdBy,
        requestId: res.locals.requestId ?? null,
        ...(idempotency ? { idempotency } : {}),
      });
    const workspace = spec.workspace;
    let record: SwarmRecord;
    try {
      record = workspace
        ? await oneAtATime(async () => {
            await checkWorkspaceFree(workspace, key === undefined ? undefined : { createdBy, key });
            return submit();
          })
        : await submit();
    } catch (err) {
      if (!(err instanceof ExistingSubmissionError)) throw err;
      if (err.requestHash !== idempotency?.hash) {
        throw new AppError(
          'IDEMPOTENCY_KEY_REUSED',
          `This ${IDEMPOTENCY_HEADER} was used for a different request (swarm ${err.existing.id}); use a new key for a new submission`,
          { details: { swarmId: err.existing.id } },
        );
      }
      // A retry of the first request: its swarm, as it is now, and no second one.
      record = err.existing;
      res.setHeader('Idempotent-Replayed', 'true');
    }
    res
      .status(202)
      .location(`/api/swarms/${record.id}`)
      .json({
        ...recordView(record),
        links: { self: `/api/swarms/${record.id}`, events: `/api/swarms/${record.id}/events` },
      });
  });

  // A page is the same for every viewer: pollers asking for it at once share one query and one
  // serialization (see shared-per-tick.ts for why none of them misses a write made before it asked).
  const listPage = sharedPerTick(
    (q: z.infer<typeof listQuery>) =>
      `${q.limit}|${q.status ?? ''}|${q.strategy ?? ''}|${q.cursor ?? ''}`,
    async (q) => {
      const page = await deps.store.list(q);
      return JSON.stringify({ items: page.items.map(recordView), nextCursor: page.nextCursor });
    },
  );

  router.get('/api/swarms', auth.requireRole('viewer'), async (req, res) => {
    const q = parseQuery(req, listQuery);
    res.type('json').send(await listPage(q));
  });

  router.get(
    '/api/swarms/:id',
    auth.requireRole('viewer'),
    kit.cached('/api/swarms/:id'),
    async (req, res) => {
      const id = idOf(req.params.id);
      const record = await deps.store.get(id);
      if (!record) throw new NotFoundError('swarm', id);
      const state = await deps.engine.state(id);
      // Only a finished swarm's answer stays true for the cache's lifetime.
      if (!record.completedAt) res.locals.noCache = true;
      res.json({ ...recordView(record), ...stateView(state) });
    },
  );

  router.post('/api/swarms/:id/cancel', auth.requireRole('operator'), async (req, res) => {
    const id = idOf(req.params.id);
    if (!(await deps.store.get(id))) throw new NotFoundError('swarm', id);
    const record = await deps.engine.cancel(
      id,
      principalOf(res.locals).key.name,
      res.locals.requestId as string | undefined,
    );
    await kit.invalidate(`/api/swarms/${id}`);
    res.status(202).json(recordView(record));
  });

  router.post('/api/swarms/:id/decision', auth.requireRole('operator'), json, async (req, res) => {
    const id = idOf(req.params.id);
    const body = parseBody(req, decisionBody);
    if (!(await deps.store.get(id))) throw new NotFoundError('swarm', id);
    const record = await deps.engine.decide(
      id,
      body.decision,
      body.feedback,
      principalOf(res.locals).key.name,
      res.locals.requestId as string | undefined,
    );
    await kit.invalidate(`/api/swarms/${id}`);
    res.json(recordView(record));
  });

  router.get('/api/swarms/:id/events', auth.requireRole('viewer'), async (req, res) => {
    const id = idOf(req.params.id);
    if (!(await deps.store.get(id))) throw new NotFoundError('swarm', id);
    const header =
      req.get('last-event-id') ??
      (typeof req.query.after === 'string' ? req.query.after : undefined);
    const lastSeen = header === undefined ? 0 : Number(header);
    if (!Number.isInteger(lastSeen) || lastSeen < 0) {
      throw new AppError(
        'VALIDATION_FAILED',
        'Last-Event-ID must be a non-negative integer (an event seq)',
      );
    }
    streams.open(principalOf(res.locals).key.id, id, lastSeen, res);
  });

  return router;
}
