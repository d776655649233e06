// What the engine needs from the outside world beyond the storage and queue ports: agents,
// providers, pricing, workspaces and observers. src/main wires real implementations in.
import type { AgentDefinition } from '../domain/agent-definition.js';
import type { SwarmEvent } from '../domain/cfn/spec.js';
import type { SwarmState } from '../domain/cfn/state.js';
import type { Provider, TokenUsage, ToolCall, ToolSpec } from '../ports/provider.js';
import type { Workspace } from '../ports/workspace.js';

export interface ProviderResolver {
  /** The named provider, or the default one; throws with a clear message when none fits. */
  get(name?: string): Provider;
}

/** What a swarm's spec says about how its workspace may be used. */
export interface WorkspaceOpenOptions {
  /** The swarm's commands may reach the network (spec `network`, allowed by the operator). */
  network: boolean;
}

export interface WorkspaceAccess {
  open(root: string, options: WorkspaceOpenOptions): Promise<Workspace>;
  toolsFor(agentTools: string[]): ToolSpec[];
  execute(
    workspace: Workspace,
    call: ToolCall,
    options: { signal: AbortSignal; commandTimeoutMs: number },
  ): Promise<{ content: string; isError: boolean }>;
}

/** Observers for metrics; every callback happens after the fact it reports was persisted. */
export interface EngineObserver {
  /** `state` is the swarm after these events. */
  eventsCommitted?(state: SwarmState, events: readonly SwarmEvent[]): void;
  taskFinished?(agent: string, outcome: 'succeeded' | 'failed', seconds: number): void;
  llmCall?(provider: string, model: string, usage: TokenUsage, costUsd: number): void;
}

export interface EngineLimits {
  /** Tool-use rounds per agent task before it must answer. */
  maxToolRounds: number;
  defaultMaxTokens: number;
  defaultTimeoutMs: number;
  /** Timeout of a run_command tool call. */
  commandTimeoutMs: number;
}

export type AgentCatalog = () => ReadonlyMap<string, AgentDefinition>;
