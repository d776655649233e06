// Text for `cfn swarms list` and `cfn swarms show`: a table row per swarm, and a swarm's header
// with a per-iteration account (pure functions over the API's JSON views).
import type { SwarmDetailView, SwarmRecordView, TaskView, Verdict } from './api-types.js';
import { formatCost, formatDuration, taskResult, truncate } from './progress-view.js';
import { formatTable } from './table.js';

export const SWARM_LIST_HEADER = [
  'ID',
  'STATUS',
  'STRATEGY',
  'MODE',
  'ITER',
  'DECISION',
  'COST',
  'CREATED',
  'OBJECTIVE',
] as const;

/** ISO time without seconds fraction and zone letter, readable in a table. */
export function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z');
}

export function swarmRow(s: SwarmRecordView): string[] {
  return [
    s.id,
    s.status,
    s.strategy,
    s.mode,
    String(s.iteration),
    s.decision ?? '-',
    formatCost(s.costUsd),
    shortTime(s.createdAt),
    truncate(s.objective, 50),
  ];
}

const verdict = (v: Verdict | null) =>
  v
    ? `${v.passed ? 'passed' : 'failed'} (${v.score.toFixed(2)} vs ${v.threshold.toFixed(2)})`
    : '-';

function taskOutcome(t: TaskView): string {
  if (t.status === 'failed') return `failed: ${truncate(t.reason ?? 'unknown reason', 100)}`;
  if (t.status === 'succeeded') return taskResult(t.phase, t.output ?? {});
  return t.status;
}

export function formatSwarmDetail(d: SwarmDetailView): string {
  const spec = d.spec;
  const validators = spec.validators.map((v) =>
    v.kind === 'agent' ? v.agent : `\`${v.command}\``,
  );
  const tokens = d.tokens.input + d.tokens.output;
  const elapsed = d.completedAt
    ? `, took ${formatDuration(Date.parse(d.completedAt) - Date.parse(d.createdAt))}`
    : '';
  const header: Array<[string, string]> = [
    ['Objective', truncate(d.objective, 200)],
    ['Status', `${d.status}${d.decision ? ` (decision ${d.decision})` : ''}`],
    ['Reason', d.reason ?? '-'],
    [
      'Strategy',
      `${d.strategy}, ${d.mode} mode, ${spec.approval} approval (gate ${spec.gate}, consensus ${spec.consensus})`,
    ],
    [
      'Agents',
      `${spec.agents.join(', ')}; validators ${validators.join(', ') || '-'}` +
        (spec.productOwner ? `; product owner ${spec.productOwner}` : '') +
        (spec.coordinator ? `; coordinator ${spec.coordinator}` : ''),
    ],
    ['Iteration', `${d.iteration} of at most ${spec.maxIterations}`],
    [
      'Usage',
      `${tokens.toLocaleString('en-US')} tokens (${d.tokens.input.toLocaleString('en-US')} in / ` +
        `${d.tokens.output.toLocaleString('en-US')} out), ${formatCost(d.costUsd)}`,
    ],
    [
      'Created',
      `${shortTime(d.createdAt)}${d.completedAt ? `, ended ${shortTime(d.completedAt)}` : ''}${elapsed}`,
    ],
  ];
  if (spec.workspace) header.push(['Workspace', spec.workspace]);
  if (spec.budget)
    header.push([
      'Budget',
      [
        spec.budget.maxCostUsd !== undefined ? formatCost(spec.budget.maxCostUsd) : '',
        spec.budget.maxTokens !== undefined ? `${spec.budget.maxTokens} tokens` : '',
      ]
        .filter(Boolean)
        .join(', '),
    ]);
  if (d.playbook) header.push(['Playbook', truncate(d.playbook.hint, 200)]);

  let text =
    `Swarm ${d.id}\n` + header.map(([k, v]) => `  ${`${k}:`.padEnd(11)}${v}`).join('\n') + '\n';

  for (const it of d.iterations) {
    text += `\nIteration ${it.iteration}\n`;
    if (it.feedback.length)
      text += `  Feedback:  ${it.feedback.map((f) => truncate(f, 100)).join('\n             ')}\n`;
    text += `  Gate:      ${verdict(it.gate)}\n`;
    if (it.deliverable)
      text += `  Files:     ${it.deliverable.passed ? it.deliverable.changedFiles.join(', ') : 'none changed (check failed)'}\n`;
    text += `  Consensus: ${verdict(it.consensus)}\n`;
    text += `  Decision:  ${
      it.decision
        ? `${it.decision.decision} by ${it.decision.by}${it.decision.rationale ? `: ${truncate(it.decision.rationale, 100)}` : ''}`
        : it.awaitingDecision
          ? `awaiting yours: cfn swarms decide ${d.id} PROCEED|ITERATE|ABORT`
          : '-'
    }\n`;
    if (it.tasks.length) {
      const rows = it.tasks.map((t) => [
        t.phase,
        t.agent ?? (t.command ? `\`${truncate(t.command, 30)}\`` : '-'),
        t.attempt > 1 ? `${t.status} (#${t.attempt})` : t.status,
        formatCost(t.costUsd),
        taskOutcome(t),
      ]);
      text +=
        '\n' +
        formatTable(['PHASE', 'AGENT', 'STATUS', 'COST', 'RESULT'], rows)
          .split('\n')
          .map((l) => (l ? `  ${l}` : l))
          .join('\n');
    }
  }
  return text;
}
