// Runs one agent task: the conversation with its provider (tool rounds included) or a command
// validator. Every completed LLM call, tool run and command is journaled the moment it completes
// (kept in memory until the database has it), so a task replayed after a crash, a failed write or a
// database outage reuses them instead of paying for them again.
import { hash as cryptoHash } from 'node:crypto';
import type { AgentDefinition } from '../domain/agent-definition.js';
import { resolveModel } from '../domain/model-alias.js';
import {
  coordinatorOutput,
  decisionOutput,
  implementerOutput,
  parseAgentOutput,
  validatorOutput,
} from '../domain/cfn/agent-output.js';
import type { SwarmSpec, TaskSpec, SwarmEvent } from '../domain/cfn/spec.js';
import { ProviderError, type ChatMessage, type ToolCall } from '../ports/provider.js';
import type { JournalEntry, SwarmStore } from '../ports/swarm-store.js';
import { inputTokensFor, reserveCall, type CallGrant } from './call-budget.js';
import type { EffectJournal } from './effect-journal.js';
import { WorkspaceError, type Workspace } from '../ports/workspace.js';
import type {
  AgentCatalog,
  EngineLimits,
  EngineObserver,
  ProviderResolver,
  WorkspaceAccess,
} from './ports.js';

export type TaskOutcome =
  | {
      ok: true;
      output: Record<string, unknown>;
      tokens: { input: number; output: number };
      costUsd: number;
      held?: Spent['held'];
    }
  | {
      ok: false;
      reason: string;
      retryable: boolean;
      budgetExceeded?: boolean;
      cancelled?: boolean;
      tokens: { input: number; output: number };
      costUsd: number;
      held?: Spent['held'];
    };

export interface AgentRunnerDeps {
  store: SwarmStore;
  journal: EffectJournal;
  agents: AgentCatalog;
  providers: ProviderResolver;
  pricing: (model: string, usage: { inputTokens: number; outputTokens: number }) => number;
  workspaces: WorkspaceAccess;
  limits: EngineLimits;
  observer?: EngineObserver;
  /** Facts worth an event while the task runs (tool calls). */
  record: (swarmId: string, events: SwarmEvent[]) => Promise<void>;
}

/** What a task spent; `held` is budget reserved for its finished calls, released after its event. */
export interface Spent {
  tokens: { input: number; output: number };
  costUsd: number;
  held: { tokens: number; usd: number };
}

class TaskFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly flags: { budgetExceeded?: boolean; cancelled?: boolean } = {},
  ) {
    super(message);
  }
}

const hash = (v: unknown) => cryptoHash('sha256', JSON.stringify(v), 'hex').slice(0, 32);
const MAX_TEXT = 20_000;

const schemaFor = (phase: TaskSpec['phase']) =>
  phase === 'implement'
    ? ([implementerOutput, 'implementer'] as const)
    : phase === 'validate'
      ? ([validatorOutput, 'validator'] as const)
      : phase === 'decide'
        ? ([decisionOutput, 'product owner'] as const)
        : ([coordinatorOutput, 'coordinator'] as const);

export type AgentRunner = ReturnType<typeof createAgentRunner>;

export function createAgentRunner(deps: AgentRunnerDeps) {
  async function runCommand(
    swarmId: string,
    spec: SwarmSpec,
    task: TaskSpec,
    workspace: Workspace,
    signal: AbortSignal,
    fresh: boolean,
  ): Promise<TaskOutcome> {
    const key = `${swarmId}/${task.taskId}/command`;
    let entry = await deps.journal.get(key, fresh);
    if (!entry) {
      const started = Date.now();
      const r = await workspace.runCommand(task.command!, {
        timeoutMs: task.commandTimeoutMs ?? deps.limits.commandTimeoutMs,
        signal,
      });
      if (signal.aborted)
        throw new TaskFailure('cancelled while the command ran', false, { cancelled: true });
      entry = {
        key,
        swarmId,
        taskId: task.taskId,
        kind: 'command',
        requestHash: hash(task.command),
        response: { ...r },
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
        durationMs: Date.now() - started,
      };
      // Durable before the task's outcome (which also carries it): nothing depends on it before.
      void deps.journal.put(entry);
    }
    const r = entry.response as { exitCode: number | null; output: string; timedOut: boolean };
    const passed = r.exitCode === 0;
    const tail = r.output.length > 2000 ? `…${r.output.slice(-2000)}` : r.output;
    void spec;
    return {
      ok: true,
      output: {
        score: passed ? 1 : 0,
        approve: passed,
        // The validator's name (the command) is put in front of this where it is shown.
        feedback: passed
          ? 'passed'
          : `failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}):\n${tail}`,
        exitCode: r.exitCode,
      },
      tokens: { input: 0, output: 0 },
      costUsd: 0,
    };
  }

  async function runAgent(
    swarmId: string,
    spec: SwarmSpec,
    task: TaskSpec,
    definition: AgentDefinition,
    workspace: Workspace | undefined,
    signal: AbortSignal,
    headers: Record<string, string>,
    spent: Spent,
    fresh: boolean,
    durable: Promise<void>,
  ): Promise<TaskOutcome> {
    let provider;
    try {
      provider = deps.providers.get(definition.provider);
    } catch (err) {
      throw new TaskFailure((err as Error).message, false);
    }
    const model = resolveModel(definition.model, provider);
    const tools =
      workspace && provider.supportsTools ? deps.workspaces.toolsFor(definition.tools) : [];
    const maxTokens = definition.maxTokens ?? deps.limits.defaultMaxTokens;
    const messages: ChatMessage[] = [{ role: 'user', content: task.prompt ?? spec.objective }];
    const { tokens } = spent;
    let text = '';

    for (let round = 0; ; round++) {
      const key = `${swarmId}/${task.taskId}/llm/${round}`;
      let entry: JournalEntry | undefined = await deps.journal.get(key, fresh);
      if (!entry) {
        if (signal.aborted) throw new TaskFailure('cancelled', false, { cancelled: true });
        const budgeted =
          spec.budget?.maxTokens !== undefined || spec.budget?.maxCostUsd !== undefined;
        let grant: CallGrant | undefined;
        if (budgeted) {
          const inputTokens = await inputTokensFor(provider, {
            model,
            system: definition.systemPrompt,
            messages,
            tools,
            signal,
            headers: { ...headers, 'x-cfn-call-key': key },
          });
          const r = await reserveCall(deps.store, deps.pricing, swarmId, {
            model,
            inputTokens,
            maxTokens,
          });
          if ('need' in r)
            throw new TaskFailure(
              `budget exceeded: the swarm's budget has no room left for this call (up to ${inputTokens} input ` +
                `tokens and a short answer: ${r.need.tokens} tokens / $${r.need.usd.toFixed(4)})`,
              false,
              { budgetExceeded: true },
            );
          grant = r;
        }
        const started = Date.now();
        try {
          const res = await provider.complete({
            model,
            system: definition.systemPrompt,
            messages,
            // Within the budget: the provider stops the answer there.
            maxTokens: grant?.maxTokens ?? maxTokens,
            temperature: definition.temperature,
            ...(tools.length ? { tools } : {}),
            signal,
            timeoutMs: definition.timeoutMs ?? deps.limits.defaultTimeoutMs,
            headers: { ...headers, 'x-cfn-call-key': key },
            cwd: workspace?.root,
          });
          const cost = deps.pricing(res.model || model, res.usage);
          entry = {
            key,
            swarmId,
            taskId: task.taskId,
            kind: 'llm',
            requestHash: hash({ system: definition.systemPrompt, messages, model }),
            response: {
              text: res.text.slice(0, MAX_TEXT * 5),
              toolCalls: res.toolCalls,
              stopReason: res.stopReason,
              model: res.model,
              attempts: res.attempts,
            },
            provider: provider.name,
            model: res.model || model,
            inputTokens: res.usage.inputTokens,
            outputTokens: res.usage.outputTokens,
            costUsd: cost,
            durationMs: Date.now() - started,
          };
          const written = deps.journal.put(entry);
          if (res.toolCalls.length && tools.length && workspace) {
            // Tool runs follow: the call is durable before they run (and after the task's start).
            await durable;
            await written;
          }
          deps.observer?.llmCall?.(provider.name, entry.model ?? model, res.usage, cost);
          if (budgeted) {
            // Until the task's event adds this usage to the swarm's totals, it stays reserved.
            const used = res.usage.inputTokens + res.usage.outputTokens;
            await deps.store.holdBudget(swarmId, used, cost);
            spent.held.tokens += used;
            spent.held.usd += cost;
          }
        } catch (err) {
          if (err instanceof ProviderError) {
            if (err.kind === 'aborted' || signal.aborted)
              throw new TaskFailure('cancelled during an LLM call', false, { cancelled: true });
            const retryable = ['rate_limited', 'server', 'network', 'timeout'].includes(err.kind);
            throw new TaskFailure(
              `${provider.name} call failed (${err.kind}): ${err.message}`,
              retryable,
            );
          }
          if (signal.aborted)
            throw new TaskFailure('cancelled during an LLM call', false, { cancelled: true });
          throw err;
        } finally {
          await grant?.release();
        }
      }
      tokens.input += entry.inputTokens;
      tokens.output += entry.outputTokens;
      spent.costUsd += entry.costUsd;
      const response = entry.response as { text: string; toolCalls: ToolCall[] };
      text = response.text;
      if (!response.toolCalls?.length || !tools.length || !workspace) break;
      if (round >= deps.limits.maxToolRounds) {
        throw new TaskFailure(
          `the agent kept calling tools for ${deps.limits.maxToolRounds} rounds without answering`,
          false,
        );
      }
      messages.push({ role: 'assistant', content: response.text, toolCalls: response.toolCalls });
      for (const call of response.toolCalls) {
        const tkey = `${swarmId}/${task.taskId}/tool/${round}/${call.id}`;
        let tool = await deps.journal.get(tkey, fresh);
        if (!tool) {
          if (signal.aborted) throw new TaskFailure('cancelled', false, { cancelled: true });
          const started = Date.now();
          const result = await deps.workspaces.execute(workspace, call, {
            signal,
            commandTimeoutMs: deps.limits.commandTimeoutMs,
          });
          tool = {
            key: tkey,
            swarmId,
            taskId: task.taskId,
            kind: 'tool',
            requestHash: hash(call),
            response: result,
            inputTokens: 0,
            outputTokens: 0,
            costUsd: 0,
            durationMs: Date.now() - started,
          };
          await durable;
          await deps.journal.put(tool);
          const r = result;
          await deps.record(swarmId, [
            {
              type: 'tool.called',
              taskId: task.taskId,
              tool: call.name,
              ok: !r.isError,
              summary: r.content.slice(0, 200),
            },
          ]);
        }
        const r = tool.response as { content: string; isError: boolean };
        messages.push({
          role: 'tool',
          toolCallId: call.id,
          name: call.name,
          content: r.content,
          isError: r.isError,
        });
      }
    }

    const [schema, what] = schemaFor(task.phase);
    const parsed = parseAgentOutput(text, schema, what);
    if (!parsed.ok) return { ok: false, reason: parsed.reason, retryable: false, ...spent };
    return {
      ok: true,
      output: { ...(parsed.value as Record<string, unknown>), text: text.slice(-MAX_TEXT) },
      ...spent,
    };
  }

  return {
    async run(
      swarmId: string,
      spec: SwarmSpec,
      task: TaskSpec,
      signal: AbortSignal,
      headers: Record<string, string>,
      /** This attempt never ran before: nothing of it can be in the journal (skip the look-ups). */
      fresh = false,
      /** Resolves when the task's start is durable: its own writes come after it. */
      durable: Promise<void> = Promise.resolve(),
    ): Promise<TaskOutcome> {
      return runTask(swarmId, spec, task, signal, headers, fresh, durable);
    },
  };

  async function runTask(
    swarmId: string,
    spec: SwarmSpec,
    task: TaskSpec,
    signal: AbortSignal,
    headers: Record<string, string>,
    fresh: boolean,
    durable: Promise<void>,
  ): Promise<TaskOutcome> {
    const zero = { tokens: { input: 0, output: 0 }, costUsd: 0 };
    // What the task spent before it failed still counts (the calls were made and paid for).
    const spent: Spent = {
      tokens: { input: 0, output: 0 },
      costUsd: 0,
      held: { tokens: 0, usd: 0 },
    };
    try {
      const workspace = spec.workspace
        ? await deps.workspaces.open(spec.workspace, { network: spec.network === true })
        : undefined;
      if (task.command) {
        if (!workspace)
          return {
            ok: false,
            reason: 'a command validator needs a workspace',
            retryable: false,
            ...zero,
          };
        return await runCommand(swarmId, spec, task, workspace, signal, fresh);
      }
      const definition = task.agent ? deps.agents().get(task.agent) : undefined;
      if (!definition)
        return { ok: false, reason: `unknown agent "${task.agent}"`, retryable: false, ...zero };
      return await runAgent(
        swarmId,
        spec,
        task,
        definition,
        workspace,
        signal,
        headers,
        spent,
        fresh,
        durable,
      );
    } catch (err) {
      if (err instanceof TaskFailure)
        return {
          ok: false,
          reason: err.message,
          retryable: err.retryable,
          ...err.flags,
          ...spent,
        };
      // Commands refused (no sandbox) or a workspace swapped for a link: retrying cannot help.
      if (err instanceof WorkspaceError && err.code !== 'IO')
        return { ok: false, reason: err.message, retryable: false, ...spent };
      throw err;
    }
  }
}
