// An agent definition: Claude Code compatible frontmatter (name, description, tools, model) plus
// our optional keys, and the markdown body as its system prompt.

export const AGENT_ROLES = ['implementer', 'validator', 'product-owner', 'coordinator'] as const;
export type AgentRole = (typeof AGENT_ROLES)[number];

export interface AgentDefinition {
  /** Unique, kebab-case; how swarms refer to the agent. */
  name: string;
  description: string;
  role: AgentRole;
  /** The system prompt (the markdown body). */
  systemPrompt: string;
  /** Workspace tools the agent may call (Claude Code names are kept as given). */
  tools: string[];
  /** Provider name from the provider configuration; undefined: the default provider. */
  provider?: string | undefined;
  /** Model id or alias; undefined: the provider's default model. */
  model?: string | undefined;
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  timeoutMs?: number | undefined;
  /** Where it came from: `builtin` or the file path. */
  source: string;
}
