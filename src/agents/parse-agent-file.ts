// Parses one agent file (markdown with YAML frontmatter, as Claude Code writes them) into an
// AgentDefinition; every defect becomes an AgentFileError naming the file and the field.
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { AGENT_ROLES, type AgentDefinition } from '../domain/agent-definition.js';
import { AppError } from '../domain/errors.js';

export class AgentFileError extends AppError {
  constructor(
    readonly source: string,
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super('VALIDATION_FAILED', `${source}: ${reason}`, {
      ...options,
      details: { source, reason },
    });
    this.name = 'AgentFileError';
  }
}

export const AGENT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** Frontmatter is a flat mapping: aliases have no honest use, so a handful is plenty. */
const MAX_ALIAS_COUNT = 16;

/** `required` when absent, else `what` (zod's own wording names types, not the fix). */
function expecting(what: string) {
  return {
    error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : what),
  };
}

const optionalText = z
  .string(expecting('must be a string'))
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .optional();

const toolName = z
  .string(expecting('must be a string'))
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters');

const frontmatterSchema = z.object({
  name: z
    .string(expecting('must be a string (quote it if YAML reads it as a number or boolean)'))
    .regex(
      AGENT_NAME_PATTERN,
      'must be kebab-case: lowercase letters, digits and "-", 1 to 64 characters, not starting with "-"',
    ),
  description: z.string(expecting('must be a string')).trim().min(1, 'must not be empty'),
  tools: z
    .union([z.string(), z.array(toolName)], {
      error: 'must be a comma-separated string ("Read, Write, Bash") or a list of strings',
    })
    .optional(),
  model: optionalText,
  role: z
    .enum(AGENT_ROLES, { error: `must be one of ${AGENT_ROLES.join(', ')}` })
    .default('implementer'),
  provider: optionalText,
  temperature: z
    .number(expecting('must be a number'))
    .min(0, 'must be from 0 to 2')
    .max(2, 'must be from 0 to 2')
    .optional(),
  maxTokens: z
    .number(expecting('must be a number'))
    .int('must be a whole number')
    .min(1, 'must be from 1 to 200000')
    .max(200_000, 'must be from 1 to 200000')
    .optional(),
  timeoutMs: z
    .number(expecting('must be a number'))
    .int('must be a whole number')
    .min(1000, 'must be from 1000 to 3600000 (milliseconds)')
    .max(3_600_000, 'must be from 1000 to 3600000 (milliseconds)')
    .optional(),
});

/** Splits "Read, Bash(git add:*, git commit:*)" on the commas outside parentheses. */
export function splitToolList(value: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of value) {
    if (ch === '(') depth += 1;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function normaliseTools(tools: string | string[] | undefined): string[] {
  const list = typeof tools === 'string' ? splitToolList(tools) : (tools ?? []);
  return [...new Set(list)];
}

function splitFrontmatter(text: string, source: string): { yaml: string; body: string } {
  const content = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const open = /^---[ \t]*\r?\n/.exec(content);
  if (!open) {
    throw new AgentFileError(
      source,
      'missing YAML frontmatter: the file must start with a "---" line, then the fields, then a closing "---" line',
    );
  }
  const rest = content.slice(open[0].length);
  const close = /^---[ \t]*(?:\r?\n|$)/m.exec(rest);
  if (!close) {
    throw new AgentFileError(source, 'the YAML frontmatter is not closed by a "---" line');
  }
  return {
    yaml: rest.slice(0, close.index),
    body: rest.slice(close.index + close[0].length),
  };
}

function parseYaml(yaml: string, source: string): Record<string, unknown> {
  let value: unknown;
  try {
    // logLevel 'error': yaml would otherwise print warnings through process.emitWarning.
    const doc = parseDocument(yaml, { uniqueKeys: true, prettyErrors: true, logLevel: 'error' });
    const first = doc.errors[0];
    if (first) {
      // One line, located in the file (the frontmatter starts on its line 2).
      const what = first.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '');
      const at = first.linePos?.[0];
      const where = at ? ` at line ${at.line + 1}, column ${at.col}` : '';
      throw new AgentFileError(source, `invalid YAML frontmatter${where}: ${what}`);
    }
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (err instanceof AgentFileError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new AgentFileError(source, `invalid YAML frontmatter: ${message.trim()}`, { cause: err });
  }
  if (value === null || value === undefined) {
    throw new AgentFileError(
      source,
      'the YAML frontmatter is empty (name and description are required)',
    );
  }
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new AgentFileError(source, 'the YAML frontmatter must be a mapping of field: value');
  }
  // An empty value (`model:`) means "not set", as Claude Code reads it.
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null));
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.map(String).join('.') || '(frontmatter)';
      return `frontmatter field "${field}" ${issue.message}`;
    })
    .join('; ');
}

export function parseAgentFile(text: string, source: string): AgentDefinition {
  const { yaml, body } = splitFrontmatter(text, source);
  const fields = frontmatterSchema.safeParse(parseYaml(yaml, source));
  if (!fields.success) throw new AgentFileError(source, describeIssues(fields.error));
  const systemPrompt = body.trim();
  if (!systemPrompt) {
    throw new AgentFileError(
      source,
      'the body (the system prompt, after the frontmatter) is empty',
    );
  }
  const f = fields.data;
  const definition: AgentDefinition = {
    name: f.name,
    description: f.description,
    role: f.role,
    systemPrompt,
    tools: normaliseTools(f.tools),
    source,
  };
  if (f.provider !== undefined) definition.provider = f.provider;
  if (f.model !== undefined && f.model.toLowerCase() !== 'inherit') definition.model = f.model;
  if (f.temperature !== undefined) definition.temperature = f.temperature;
  if (f.maxTokens !== undefined) definition.maxTokens = f.maxTokens;
  if (f.timeoutMs !== undefined) definition.timeoutMs = f.timeoutMs;
  return definition;
}
