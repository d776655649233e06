// Provider adapter that runs a command-line agent (e.g. `claude -p --output-format json`) per
// call: the prompt goes to stdin, the answer comes from stdout, and abort or timeout kills the
// whole process group, so nothing the command started outlives the call.

import { spawn } from 'node:child_process';
import {
  ProviderError,
  type ChatMessage,
  type CompletionRequest,
  type CompletionResult,
  type Provider,
} from '../ports/provider.js';
import { startCallDeadline } from './call-deadline.js';
import { estimateTokens } from './estimate-tokens.js';

export interface CliProviderOptions {
  name: string;
  /** argv, run without a shell; an element `{model}` is replaced by the call's model. */
  command: string[];
  defaultModel: string;
  /**
   * The child's whole environment (include PATH and HOME if the command needs them); default:
   * inherit this process's. Composed by the caller, since only src/config reads the environment.
   */
  env?: Record<string, string> | undefined;
  /** Wait between SIGTERM and SIGKILL to the process group. Default 500 ms. */
  killGraceMs?: number | undefined;
}

/** Bytes of stderr kept for error messages. */
const STDERR_KEEP = 16 * 1024;
const STDERR_TAIL_LINES = 20;

export function createCliProvider(options: CliProviderOptions): Provider {
  const { name, defaultModel } = options;
  const [program, ...baseArgs] = options.command;
  if (program === undefined || program === '') {
    throw new Error(`provider ${name}: command must name a program`);
  }
  const killGraceMs = options.killGraceMs ?? 500;

  return {
    name,
    kind: 'cli',
    defaultModel,
    supportsTools: false,
    complete(request: CompletionRequest): Promise<CompletionResult> {
      const model = request.model ?? defaultModel;
      const args = baseArgs.map((arg) => (arg === '{model}' ? model : arg));
      return run(program, args, request, model);
    },
  };

  function run(
    program: string,
    args: string[],
    request: CompletionRequest,
    model: string,
  ): Promise<CompletionResult> {
    return new Promise<CompletionResult>((resolve, reject) => {
      const deadline = startCallDeadline(request.signal, request.timeoutMs);
      if (deadline.signal.aborted) {
        deadline.dispose();
        reject(cutShort());
        return;
      }
      const prompt = renderPrompt(request.system, request.messages);
      const child = spawn(program, args, {
        cwd: request.cwd,
        env: options.env,
        // Its own process group, so one signal reaches everything the command starts.
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
      const stdout: Buffer[] = [];
      let stderr = '';
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;

      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        deadline.dispose();
        deadline.signal.removeEventListener('abort', terminate);
        outcome();
      };

      const signalGroup = (signal: NodeJS.Signals) => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, signal);
        } catch {
          // ESRCH: the group is already gone.
        }
      };
      const groupAlive = () => {
        if (child.pid === undefined) return false;
        try {
          process.kill(-child.pid, 0);
          return true;
        } catch {
          return false;
        }
      };

      function terminate() {
        if (killTimer !== undefined) return;
        signalGroup('SIGTERM');
        killTimer = setTimeout(() => signalGroup('SIGKILL'), killGraceMs);
      }

      function cutShort() {
        const reason = deadline.reason() ?? 'aborted';
        return new ProviderError(
          reason,
          reason === 'aborted'
            ? `${name}: call aborted, process group killed`
            : `${name}: no answer within ${request.timeoutMs} ms, process group killed`,
          { provider: name, attempts: 1 },
        );
      }

      deadline.signal.addEventListener('abort', terminate, { once: true });

      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-STDERR_KEEP);
      });
      // The command may exit without reading its stdin; that is its business, not an error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(prompt);

      child.on('error', (err) => {
        settle(() =>
          reject(
            new ProviderError(
              'process',
              `${name}: cannot run ${program}: ${err.message}`,
              { provider: name, attempts: 1 },
              { cause: err },
            ),
          ),
        );
      });

      child.on('exit', () => {
        if (killTimer === undefined) return;
        // Killed on purpose: answer now rather than waiting for pipes held by stragglers, and
        // skip SIGKILL when the whole group already went down with SIGTERM.
        if (!groupAlive()) clearTimeout(killTimer);
        settle(() => reject(cutShort()));
      });

      child.on('close', (code, signal) => {
        if (killTimer !== undefined) {
          settle(() => reject(cutShort()));
          return;
        }
        settle(() => {
          if (code !== 0) {
            const how = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
            reject(
              new ProviderError('process', `${name}: ${program} ${how}${stderrTail(stderr)}`, {
                provider: name,
                attempts: 1,
              }),
            );
            return;
          }
          try {
            const result = parseOutput(Buffer.concat(stdout).toString('utf8'), prompt, model, name);
            if (result.text !== '') request.onText?.(result.text);
            resolve(result);
          } catch (err) {
            reject(err);
          }
        });
      });
    });
  }
}

/**
 * The conversation as plain text: a lone user message goes as it is; longer conversations get
 * role headings so the command can tell the turns apart.
 */
export function renderPrompt(system: string, messages: ChatMessage[]): string {
  const parts: string[] = [];
  if (system !== '') parts.push(system);
  const only = messages.length === 1 ? messages[0] : undefined;
  if (only?.role === 'user') {
    parts.push(only.content);
  } else {
    for (const message of messages) {
      if (message.role === 'user') parts.push(`## User\n\n${message.content}`);
      else if (message.role === 'assistant') parts.push(`## Assistant\n\n${message.content}`);
      else {
        const label = message.isError ? 'Tool error' : 'Tool result';
        parts.push(`## ${label} (${message.name})\n\n${message.content}`);
      }
    }
  }
  return `${parts.join('\n\n')}\n`;
}

interface ClaudeJsonOutput {
  result: string;
  is_error?: boolean;
  subtype?: string;
  usage?: {
    input_tokens?: number;
    output_tokens?: number;
    cache_creation_input_tokens?: number;
    cache_read_input_tokens?: number;
  };
  modelUsage?: Record<string, unknown>;
}

function parseOutput(
  stdout: string,
  prompt: string,
  model: string,
  provider: string,
): CompletionResult {
  const trimmed = stdout.trim();
  const json = parseClaudeJson(trimmed);
  if (!json) {
    return {
      text: trimmed,
      toolCalls: [],
      usage: { inputTokens: estimateTokens(prompt), outputTokens: estimateTokens(trimmed) },
      model,
      stopReason: 'end_turn',
      attempts: 1,
    };
  }
  if (json.is_error === true) {
    throw new ProviderError(
      'process',
      `${provider}: command reported an error (${json.subtype ?? 'error'}): ${json.result}`,
      { provider, attempts: 1 },
    );
  }
  const usage = json.usage;
  const reported = usage?.input_tokens !== undefined || usage?.output_tokens !== undefined;
  return {
    text: json.result,
    toolCalls: [],
    usage: reported
      ? {
          inputTokens:
            (usage?.input_tokens ?? 0) +
            (usage?.cache_creation_input_tokens ?? 0) +
            (usage?.cache_read_input_tokens ?? 0),
          outputTokens: usage?.output_tokens ?? 0,
        }
      : { inputTokens: estimateTokens(prompt), outputTokens: estimateTokens(json.result) },
    model: Object.keys(json.modelUsage ?? {})[0] ?? model,
    stopReason: json.subtype ?? 'end_turn',
    attempts: 1,
  };
}

/** Claude Code's `--output-format json` object, or undefined for any other output. */
function parseClaudeJson(text: string): ClaudeJsonOutput | undefined {
  if (!text.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.result !== 'string') return undefined;
  const usage = typeof record.usage === 'object' && record.usage !== null ? record.usage : {};
  const numbers = Object.fromEntries(
    Object.entries(usage).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)),
  );
  return {
    result: record.result,
    ...(record.is_error === true ? { is_error: true } : {}),
    ...(typeof record.subtype === 'string' ? { subtype: record.subtype } : {}),
    usage: numbers,
    ...(typeof record.modelUsage === 'object' && record.modelUsage !== null
      ? { modelUsage: record.modelUsage as Record<string, unknown> }
      : {}),
  };
}

function stderrTail(stderr: string): string {
  const lines = stderr.trimEnd().split('\n').slice(-STDERR_TAIL_LINES);
  const tail = lines.join('\n').trim();
  return tail === '' ? ' (no stderr)' : `; stderr:\n${tail}`;
}
