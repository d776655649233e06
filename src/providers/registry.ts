// The configured LLM providers by name: validates the `providers:` list of the configuration and
// builds one adapter per entry, so callers ask for a provider by name or take the default.

import { z } from 'zod';
import { ValidationError } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';
import type { Provider } from '../ports/provider.js';
import { withCallLog } from './call-log.js';
import { createCliProvider } from './cli-provider.js';
import { createFlowControl, type FlowControl } from './flow-control.js';
import { limitFetch } from './limited-fetch.js';
import { createUndiciFetch } from './provider-fetch.js';

export const DEFAULT_MODELS = {
  anthropic: 'claude-sonnet-4-6',
  openai: 'gpt-5-mini',
  cli: 'default',
} as const;

/** The SDKs' own default: three attempts in all. */
const DEFAULT_MAX_RETRIES = 2;

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-" (at most 64)');
const model = z.string().min(1);
const maxRetries = z.number().int().min(0).max(10);
/** Flow control toward the provider (src/providers/flow-control.ts): every kind takes these. */
const limits = {
  /** Requests in flight at most; default: the engine's agent concurrency. */
  maxConcurrency: z.number().int().min(1).max(10_000).optional(),
  requestsPerMinute: z.number().int().min(1).max(10_000_000).optional(),
  /** Input (estimated) plus output tokens per minute. */
  tokensPerMinute: z.number().int().min(1).max(1_000_000_000).optional(),
};

const anthropicConfig = z.strictObject({
  name,
  kind: z.literal('anthropic'),
  apiKey: z.string().min(1),
  baseUrl: z.url().optional(),
  defaultModel: model.optional(),
  maxRetries: maxRetries.optional(),
  ...limits,
});

const openAiConfig = z
  .strictObject({
    name,
    kind: z.literal('openai'),
    /** Optional only for compatible local servers (baseUrl set) that ignore the key. */
    apiKey: z.string().min(1).optional(),
    baseUrl: z.url().optional(),
    defaultModel: model.optional(),
    maxRetries: maxRetries.optional(),
    tokenLimitParam: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
    ...limits,
  })
  .superRefine((config, ctx) => {
    if (config.baseUrl === undefined && config.apiKey === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiKey'],
        message: 'required for api.openai.com (set baseUrl for a local compatible server)',
      });
    }
    if (config.baseUrl !== undefined && config.defaultModel === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultModel'],
        message: 'required with a custom baseUrl (the server decides which models exist)',
      });
    }
  });

const cliConfig = z.strictObject({
  name,
  kind: z.literal('cli'),
  command: z.array(z.string().min(1)).min(1),
  defaultModel: model.optional(),
  /** The child's whole environment (include PATH if needed); default: inherit the service's. */
  env: z.record(z.string(), z.string()).optional(),
  ...limits,
});

export const providerConfigSchema = z.discriminatedUnion('kind', [
  anthropicConfig,
  openAiConfig,
  cliConfig,
]);

export type ProviderConfig = z.infer<typeof providerConfigSchema>;

const providerConfigsSchema = z.array(providerConfigSchema).superRefine((configs, ctx) => {
  const seen = new Set<string>();
  configs.forEach((config, index) => {
    if (seen.has(config.name)) {
      ctx.addIssue({
        code: 'custom',
        path: [index, 'name'],
        message: `duplicate provider name "${config.name}"`,
      });
    }
    seen.add(config.name);
  });
});

/** Validates the `providers:` list of a YAML/JSON configuration file. */
export function parseProviderConfigs(raw: unknown): ProviderConfig[] {
  const parsed = providerConfigsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid providers configuration: ${z.prettifyError(parsed.error)}`,
      parsed.error.issues.map((issue) => ({
        path: ['providers', ...issue.path].join('.'),
        message: issue.message,
      })),
    );
  }
  return parsed.data;
}

export interface ProviderDeps {
  logger?: Logger | undefined;
  /** Replaces the HTTP client of the HTTP providers (a proxy agent, say); still flow-controlled. */
  fetch?: typeof globalThis.fetch | undefined;
  /** A provider's `maxConcurrency` when its configuration sets none (the engine's agent limit). */
  maxConcurrency?: number | undefined;
}

/** Without configuration or an engine's limit: what one process should send one provider. */
const DEFAULT_MAX_CONCURRENCY = 128;

/**
 * The provider of `config` under its flow control, logging each call when a logger is given
 * (src/providers/call-log.ts). The HTTP providers get a connection pool of their own, as large as
 * their concurrency: a fixed pool would be a hidden cap.
 */
export async function createProvider(
  config: ProviderConfig,
  deps: ProviderDeps = {},
): Promise<Provider> {
  const flow = createFlowControl({
    maxConcurrency: config.maxConcurrency ?? deps.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    requestsPerMinute: config.requestsPerMinute,
    tokensPerMinute: config.tokensPerMinute,
  });
  const base =
    config.kind === 'cli'
      ? withFlow(
          createCliProvider({
            name: config.name,
            command: config.command,
            defaultModel: config.defaultModel ?? DEFAULT_MODELS.cli,
            env: config.env,
          }),
          flow,
        )
      : await createHttpProvider(config, {
          ...deps,
          fetch: limitFetch(
            deps.fetch ?? createUndiciFetch({ connections: flow.stats().maxConcurrency }),
            flow,
            config.tokensPerMinute !== undefined,
          ),
        });
  const provider: Provider = { ...base, flowStats: () => flow.stats() };
  if (!deps.logger) return provider;
  return withCallLog(
    provider,
    deps.logger,
    'apiKey' in config && config.apiKey ? [config.apiKey] : [],
  );
}

/** A CLI provider's calls are subprocesses: the flow control bounds how many run at once. */
function withFlow(provider: Provider, flow: FlowControl): Provider {
  return {
    ...provider,
    async complete(request) {
      const permit = await flow.acquire(0, request.signal);
      let outcome: 'ok' | 'other' = 'other';
      try {
        const result = await provider.complete(request);
        outcome = 'ok';
        return result;
      } finally {
        permit.release(outcome);
      }
    },
  };
}

/** Each SDK (some 15 MiB with both) is loaded when a provider of its kind is configured. */
async function createHttpProvider(
  config: Exclude<ProviderConfig, { kind: 'cli' }>,
  deps: ProviderDeps,
): Promise<Provider> {
  switch (config.kind) {
    case 'anthropic': {
      const { createAnthropicProvider } = await import('./anthropic-provider.js');
      return createAnthropicProvider({
        name: config.name,
        apiKey: config.apiKey,
        baseUrl: config.baseUrl,
        defaultModel: config.defaultModel ?? DEFAULT_MODELS.anthropic,
        maxRetries: config.maxRetries ?? DEFAULT_MAX_RETRIES,
        logger: deps.logger,
        fetch: deps.fetch,
      });
    }
    case 'openai': {
      const { createOpenAiProvider } = await import('./openai-provider.js');
      return createOpenAiProvider({
        name: config.name,
        // Local servers ignore the key, but the SDK insists on one.
        apiKey: config.apiKey ?? 'unused',
        baseUrl: config.baseUrl,
        defaultModel: config.defaultModel ?? DEFAULT_MODELS.openai,
        maxRetries: config.maxRetries ?? DEFAULT_MAX_RETRIES,
        tokenLimitParam: config.tokenLimitParam,
        logger: deps.logger,
        fetch: deps.fetch,
      });
    }
  }
}

export interface ProviderRegistry {
  /** The provider used when none is named; undefined only when none are configured. */
  readonly defaultName: string | undefined;
  /** The named provider, or the default one; throws naming the configured providers. */
  get(name?: string): Provider;
  has(name: string): boolean;
  list(): Provider[];
}

/** Builds every configured provider; the default is `defaultProvider`, else the first entry. */
export async function createProviderRegistry(
  configs: ProviderConfig[],
  defaultProvider?: string,
  deps: ProviderDeps = {},
): Promise<ProviderRegistry> {
  const providers = new Map<string, Provider>();
  for (const config of parseProviderConfigs(configs)) {
    providers.set(config.name, await createProvider(config, deps));
  }
  const configured = () =>
    providers.size === 0
      ? 'none are configured'
      : `configured: ${[...providers.keys()].join(', ')}`;
  if (defaultProvider !== undefined && !providers.has(defaultProvider)) {
    throw new ValidationError(`default provider "${defaultProvider}" is unknown; ${configured()}`);
  }
  const defaultName = defaultProvider ?? providers.keys().next().value;

  return {
    defaultName,
    get(name?: string): Provider {
      const wanted = name ?? defaultName;
      const provider = wanted === undefined ? undefined : providers.get(wanted);
      if (!provider) {
        throw new ValidationError(
          wanted === undefined
            ? 'no LLM provider is configured'
            : `unknown LLM provider "${wanted}"; ${configured()}`,
        );
      }
      return provider;
    },
    has: (name) => providers.has(name),
    list: () => [...providers.values()],
  };
}
