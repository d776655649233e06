// The user messages each role receives. Fixed when a task is scheduled (stored in its event), so
// a task replayed after a crash sends exactly what it sent before.
import type { SwarmSpec } from './spec.js';

export interface ImplementerContext {
  iteration: number;
  maxIterations: number;
  feedback: string[];
  playbookHint?: string | undefined;
  /** Sequential strategy: what the previous agents in the chain produced. */
  previous?: Array<{ agent: string; summary: string }>;
  /** Hierarchical strategy: the subtask assigned by the coordinator. */
  subtask?: { title: string; instructions: string };
}

const section = (title: string, body: string) => `## ${title}\n${body.trim()}\n`;

export function implementerPrompt(spec: SwarmSpec, ctx: ImplementerContext): string {
  const parts = [section('Objective', spec.objective)];
  if (ctx.subtask) {
    parts.push(section(`Your subtask: ${ctx.subtask.title}`, ctx.subtask.instructions));
  }
  parts.push(
    section('Iteration', `This is iteration ${ctx.iteration} of at most ${ctx.maxIterations}.`),
  );
  if (spec.workspace) {
    parts.push(
      section(
        'Workspace',
        'You work in the swarm workspace (your working directory). When the tools read_file, ' +
          'write_file, list_files and run_command are offered, use them; paths are relative to the ' +
          'workspace. Put your deliverable in files there.',
      ),
    );
  }
  if (ctx.feedback.length) {
    parts.push(
      section(
        'Feedback from the previous iteration (address every point)',
        ctx.feedback.map((f) => `- ${f}`).join('\n'),
      ),
    );
  }
  if (ctx.previous?.length) {
    parts.push(
      section(
        'Work of the previous agents in the chain (build on it)',
        ctx.previous.map((p) => `### ${p.agent}\n${p.summary}`).join('\n\n'),
      ),
    );
  }
  if (ctx.playbookHint)
    parts.push(section('What worked before on a similar objective', ctx.playbookHint));
  parts.push(
    'End your answer with one JSON object: {"confidence": <0..1>, "summary": "<what you did>", "files": [<paths>]}',
  );
  return parts.join('\n');
}

export interface ImplementerResult {
  agent: string;
  ok: boolean;
  confidence?: number;
  summary: string;
}

export function validatorPrompt(
  spec: SwarmSpec,
  iteration: number,
  results: ImplementerResult[],
  changedFiles: string[] | undefined,
): string {
  const parts = [
    section('Objective', spec.objective),
    section('Iteration', String(iteration)),
    section(
      "Implementers' results",
      results
        .map((r) =>
          r.ok
            ? `### ${r.agent} (confidence ${r.confidence ?? '?'})\n${r.summary}`
            : `### ${r.agent} (failed)\n${r.summary}`,
        )
        .join('\n\n'),
    ),
  ];
  if (changedFiles) {
    parts.push(
      section(
        'Files changed in the workspace this iteration',
        changedFiles.map((f) => `- ${f}`).join('\n') || '(none)',
      ),
    );
  }
  parts.push(
    'Review the work against the objective. End with one JSON object: ' +
      '{"score": <0..1>, "approve": <true|false>, "feedback": "<specific, actionable>"}',
  );
  return parts.join('\n');
}

export interface DecisionContext {
  iteration: number;
  implementers: ImplementerResult[];
  maxIterations: number;
  gate?: { score: number; threshold: number; passed: boolean } | undefined;
  consensus?: { score: number; threshold: number; passed: boolean } | undefined;
  validatorFeedback: string[];
}

export function productOwnerPrompt(spec: SwarmSpec, ctx: DecisionContext): string {
  const fmt = (x?: { score: number; threshold: number; passed: boolean }) =>
    x
      ? `${x.score.toFixed(3)} (threshold ${x.threshold}, ${x.passed ? 'passed' : 'failed'})`
      : 'not evaluated';
  return [
    section('Objective', spec.objective),
    section('Iteration', `${ctx.iteration} of at most ${ctx.maxIterations}`),
    section(
      "Implementers' results",
      ctx.implementers
        .map((r) =>
          r.ok
            ? `- ${r.agent} (confidence ${r.confidence ?? '?'}): ${r.summary}`
            : `- ${r.agent} failed: ${r.summary}`,
        )
        .join('\n') || '(none)',
    ),
    section('Confidence gate', fmt(ctx.gate)),
    section('Validator consensus', fmt(ctx.consensus)),
    section(
      'Validator feedback',
      ctx.validatorFeedback.map((f) => `- ${f}`).join('\n') || '(none)',
    ),
    'Decide: PROCEED (done), ITERATE (another iteration with this feedback) or ABORT (stop; the ' +
      'objective cannot be met). End with one JSON object: {"decision": "PROCEED"|"ITERATE"|"ABORT", "rationale": "…"}',
  ].join('\n');
}

export function coordinatorPrompt(spec: SwarmSpec, workers: string[], feedback: string[]): string {
  const parts = [
    section('Objective', spec.objective),
    section('Available worker agents', workers.map((w) => `- ${w}`).join('\n')),
  ];
  if (feedback.length)
    parts.push(
      section('Feedback from the previous iteration', feedback.map((f) => `- ${f}`).join('\n')),
    );
  parts.push(
    'Decompose the objective into independent subtasks for these workers. End with one JSON object: ' +
      '{"subtasks": [{"title": "…", "instructions": "…", "agent": "<worker>"}], "summary": "…"}',
  );
  return parts.join('\n');
}
