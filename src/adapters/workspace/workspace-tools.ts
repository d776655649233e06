// The workspace tools API-provider agents call (read_file, write_file, list_files, run_command):
// their specs for the model, and one executor that turns every failure into a tool error result.

import { z } from 'zod';
import type { ToolCall, ToolSpec } from '../../ports/provider.js';
import { WorkspaceError, type Workspace } from '../../ports/workspace.js';
import { checkCommandAllowed } from './fs-workspace.js';

export interface ExecuteToolCallOptions {
  signal: AbortSignal;
  commandTimeoutMs: number;
  /**
   * The operator's extra filter (CFN_TOOL_COMMANDS): first words run_command accepts, with no
   * shell metacharacters. Undefined: any command line (the sandbox is the boundary).
   */
  allowList?: readonly string[] | undefined;
  /** Cap on run_command output kept for the model (the workspace default when omitted). */
  maxOutputBytes?: number;
}

export interface ToolResult {
  content: string;
  isError: boolean;
}

const RELATIVE =
  'Path relative to the workspace root, e.g. "src/index.ts". Absolute paths and ".." leaving the workspace are refused.';

const inputSchemas = {
  read_file: z.object({ path: z.string().min(1).describe(RELATIVE) }),
  write_file: z.object({
    path: z.string().min(1).describe(RELATIVE),
    content: z.string().describe('The complete new content of the file (UTF-8 text).'),
  }),
  list_files: z.object({
    path: z
      .string()
      .optional()
      .describe('Directory relative to the workspace root; omit to list the whole workspace.'),
  }),
  run_command: z.object({
    command: z
      .string()
      .min(1)
      .describe(
        'One command line, run with the workspace root as working directory, e.g. "npm test".',
      ),
  }),
} as const;

type WorkspaceToolName = keyof typeof inputSchemas;

const descriptions: Record<WorkspaceToolName, string> = {
  read_file:
    'Read a UTF-8 text file from the workspace. The path is relative to the workspace root.',
  write_file:
    'Create or overwrite a file in the workspace with the given content (parent directories are created). ' +
    'The path is relative to the workspace root. To edit a file, read it, then write the whole new content.',
  list_files:
    'List files and directories under a directory of the workspace, recursively (skips .git and node_modules). ' +
    'Paths in the answer are relative to the workspace root, ready for read_file.',
  run_command:
    'Run a shell command line in the workspace root (e.g. tests or a build) and get its exit code and output. ' +
    'It runs in a sandbox: only the workspace is writable, nothing else of the machine is visible, and ' +
    'there is no network unless the swarm was allowed it.',
};

const filteredNote = (allowList: readonly string[]) =>
  ` Only these programs may start a command: ${allowList.join(', ') || '(none)'}; ` +
  'shell operators such as ; & | $ > < or backticks are refused.';

function specsFor(allowList: readonly string[] | undefined): ToolSpec[] {
  return (Object.keys(inputSchemas) as WorkspaceToolName[]).map((name) => ({
    name,
    description:
      name === 'run_command' && allowList !== undefined
        ? descriptions[name] + filteredNote(allowList)
        : descriptions[name],
    inputSchema: jsonSchemaOf(name),
  }));
}

export const WORKSPACE_TOOLS: ToolSpec[] = specsFor(undefined);

/** Claude Code tool names (as in `.claude/agents/*.md` frontmatter) to ours. */
const CLAUDE_CODE_TOOLS: Record<string, WorkspaceToolName> = {
  Read: 'read_file',
  Write: 'write_file',
  Edit: 'write_file',
  MultiEdit: 'write_file',
  Glob: 'list_files',
  Grep: 'list_files',
  LS: 'list_files',
  Bash: 'run_command',
};

/**
 * The workspace tools an agent definition grants. Accepts Claude Code names (a permission suffix
 * such as `Bash(npm test:*)` is ignored) and our own; unknown names grant nothing; [] grants all.
 * With `allowList` (the operator's command filter), run_command's description names it.
 */
export function toolsForAgent(
  agentTools: readonly string[],
  allowList?: readonly string[],
): ToolSpec[] {
  const specs = allowList === undefined ? WORKSPACE_TOOLS : specsFor(allowList);
  if (agentTools.length === 0) return [...specs];
  const granted = new Set<string>();
  for (const raw of agentTools) {
    const name = raw.trim().replace(/\(.*\)$/, '');
    const mapped = isWorkspaceToolName(name) ? name : CLAUDE_CODE_TOOLS[name];
    if (mapped !== undefined) granted.add(mapped);
  }
  return specs.filter((tool) => granted.has(tool.name));
}

/** Runs one tool call against the workspace. Never throws: failures come back as isError results. */
export async function executeToolCall(
  workspace: Workspace,
  call: ToolCall,
  options: ExecuteToolCallOptions,
): Promise<ToolResult> {
  try {
    return await dispatch(workspace, call, options);
  } catch (error) {
    return { content: describeError(error), isError: true };
  }
}

async function dispatch(
  workspace: Workspace,
  call: ToolCall,
  options: ExecuteToolCallOptions,
): Promise<ToolResult> {
  if (!isWorkspaceToolName(call.name)) {
    return {
      content: `Unknown tool "${call.name}". Available tools: ${Object.keys(inputSchemas).join(', ')}.`,
      isError: true,
    };
  }
  const parsed = inputSchemas[call.name].safeParse(call.input);
  if (!parsed.success) {
    return {
      content: `Invalid input for ${call.name}:\n${z.prettifyError(parsed.error)}`,
      isError: true,
    };
  }
  const input: Record<string, unknown> = parsed.data;
  const text = (key: string): string => String(input[key]);
  switch (call.name) {
    case 'read_file':
      return { content: await workspace.readFile(text('path')), isError: false };
    case 'write_file': {
      const content = text('content');
      await workspace.writeFile(text('path'), content);
      return {
        content: `Wrote ${Buffer.byteLength(content, 'utf8')} bytes to ${text('path')}.`,
        isError: false,
      };
    }
    case 'list_files': {
      const dir = input.path === undefined ? '.' : text('path');
      const entries = await workspace.listFiles(dir);
      if (entries.length === 0) return { content: '(no files)', isError: false };
      const lines = entries.map((e) =>
        e.type === 'dir' ? `${e.path}/` : `${e.path} (${e.size} bytes)`,
      );
      return { content: lines.join('\n'), isError: false };
    }
    case 'run_command': {
      const command = text('command');
      if (options.allowList !== undefined) checkCommandAllowed(command, options.allowList);
      const result = await workspace.runCommand(command, {
        timeoutMs: options.commandTimeoutMs,
        signal: options.signal,
        ...(options.maxOutputBytes === undefined ? {} : { maxOutputBytes: options.maxOutputBytes }),
      });
      const status = result.timedOut
        ? `Timed out after ${options.commandTimeoutMs} ms (killed by ${result.signal ?? 'signal'}).`
        : result.exitCode === null
          ? `Killed by ${result.signal ?? 'a signal'} (exit code: none).`
          : `Exit code: ${result.exitCode}`;
      return {
        content: `${status}\n${result.output}`,
        // A non-zero exit is an answer (e.g. failing tests), not a tool failure.
        isError: result.exitCode === null,
      };
    }
  }
}

function describeError(error: unknown): string {
  if (error instanceof WorkspaceError) {
    switch (error.code) {
      case 'ESCAPE':
        return `Refused: ${error.message}. Paths must be relative to the workspace root and stay inside the workspace.`;
      case 'NOT_FOUND':
        return `Not found: ${error.message}.`;
      case 'TOO_LARGE':
        return `Too large: ${error.message}.`;
      case 'NOT_ALLOWED':
        return `Not allowed: ${error.message}.`;
      case 'NO_SANDBOX':
        return `Commands are unavailable: ${error.message}. Work with read_file, write_file and list_files instead.`;
      case 'IO':
        return `Workspace error: ${error.message}.`;
    }
  }
  return `Tool failed: ${error instanceof Error ? error.message : String(error)}`;
}

function isWorkspaceToolName(name: string): name is WorkspaceToolName {
  return Object.hasOwn(inputSchemas, name);
}

function jsonSchemaOf(name: WorkspaceToolName): Record<string, unknown> {
  // `$schema` is dropped: providers expect a bare object schema.
  const { $schema: _ignored, ...schema } = z.toJSONSchema(inputSchemas[name], { io: 'input' });
  return schema;
}
