// The agent output contract: each answer ends with one JSON object. Parsing is tolerant (fenced
// or bare, the last complete object wins); a missing or invalid object is a reason, never a throw.
import { z } from 'zod';
import { DECISIONS } from './modes.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The end (exclusive) of the balanced {...} starting at `start`, strings respected; -1 if none. */
function matchingEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

/** How many opening braces (from the end) are tried: bounds the work on brace-heavy answers. */
const MAX_STARTS = 256;

/**
 * The last JSON object in the text that parses, or undefined. "Last" means the object that ends
 * latest (and, among those, the outermost), so stray braces in prose or code before it do not matter.
 */
export function extractLastJsonObject(text: string): Record<string, unknown> | undefined {
  const starts: number[] = [];
  for (
    let i = text.lastIndexOf('{');
    i >= 0 && starts.length < MAX_STARTS;
    i = text.lastIndexOf('{', i - 1)
  ) {
    starts.push(i);
    if (i === 0) break;
  }
  const candidates = starts
    .map((start) => ({ start, end: matchingEnd(text, start) }))
    .filter((c) => c.end > 0)
    .sort((a, b) => b.end - a.end || a.start - b.start);
  for (const { start, end } of candidates) {
    try {
      const v: unknown = JSON.parse(text.slice(start, end));
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // not JSON (prose or code with braces): try the next candidate
    }
  }
  return undefined;
}

const unit = z.coerce.number().min(0).max(1);

export const implementerOutput = z.object({
  confidence: unit,
  summary: z.string().max(20_000).default(''),
  files: z.array(z.string()).max(1000).optional(),
});
export type ImplementerOutput = z.infer<typeof implementerOutput>;

export const validatorOutput = z.object({
  score: unit,
  approve: z.boolean().optional(),
  feedback: z.string().max(20_000).default(''),
  issues: z.array(z.unknown()).max(200).optional(),
});
export type ValidatorOutput = z.infer<typeof validatorOutput>;

export const decisionOutput = z.object({
  decision: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toUpperCase() : v),
    z.enum(DECISIONS),
  ),
  rationale: z.string().max(20_000).default(''),
});
export type DecisionOutput = z.infer<typeof decisionOutput>;

export const coordinatorOutput = z.object({
  subtasks: z
    .array(
      z.object({
        title: z.string().min(1).max(500),
        instructions: z.string().min(1).max(20_000),
        agent: z.string().max(64).optional(),
      }),
    )
    .min(1)
    .max(20),
  summary: z.string().max(20_000).default(''),
});
export type CoordinatorOutput = z.infer<typeof coordinatorOutput>;

export function parseAgentOutput<S extends z.ZodType>(
  text: string,
  schema: S,
  what: string,
): Parsed<z.infer<S>> {
  const obj = extractLastJsonObject(text);
  if (!obj)
    return {
      ok: false,
      reason: `the ${what} answer has no JSON object at the end (the output contract)`,
    };
  const result = schema.safeParse(obj);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join('.') || '(object)';
    return {
      ok: false,
      reason: `the ${what} JSON object is invalid: ${where}: ${issue?.message ?? 'invalid'}`,
    };
  }
  return { ok: true, value: result.data };
}
