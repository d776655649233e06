// What `cfn restore` and `cfn maintenance` print: the confirmation (what the current database
// would lose), the report of a restore, and the replicas and health of the service.
import type { MaintenanceReport } from '../ops/maintenance-switch.js';
import type { ServiceStatus } from '../ops/replica-roll-call.js';
import type { RestoreImpact, RestorePlan, RestoreReport } from '../ops/restore-service.js';

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** At most `max` ids, then how many more. */
function ids(list: string[], max = 20): string {
  const shown = list.slice(0, max).join(', ');
  return list.length > max ? `${shown} and ${list.length - max} more` : shown;
}

export function impactLines(i: RestoreImpact, future: boolean): string[] {
  const will = future ? 'will be' : 'were';
  if (!i.discardedSwarms.length && !i.discardedEvents) {
    return [
      future
        ? 'The current database holds nothing the backup does not: no swarm or event will be discarded.'
        : 'Nothing of the current database was discarded: it held nothing the backup does not.',
    ];
  }
  const lines: string[] = [];
  if (i.discardedSwarms.length) {
    lines.push(
      `${i.discardedSwarms.length} swarm(s) of the current database are not in the backup and ${will} discarded: ${ids(i.discardedSwarms)}.`,
    );
  }
  if (i.rolledBackSwarms.length) {
    lines.push(
      `${i.rolledBackSwarms.length} swarm(s) of the backup moved on since it was taken and ${future ? 'go' : 'went'} back to their state in it: ${ids(i.rolledBackSwarms)}.`,
    );
  }
  lines.push(`${i.discardedEvents} event(s) of the current database ${will} discarded in all.`);
  return lines;
}

function checksumLine(p: RestorePlan): string {
  return p.checksum === 'verified'
    ? `Checksum verified against the manifest; the whole backup decodes (${total(p.backupRows)} rows, ${p.swarmsInBackup} swarms).`
    : `No manifest next to ${p.location}: its checksum cannot be verified, only that it decodes completely ` +
        `(${total(p.backupRows)} rows, ${p.swarmsInBackup} swarms).`;
}

export function formatPlan(p: RestorePlan, confirm: string): string {
  return (
    [
      `Restoring replaces the whole database with backup ${p.id} (created ${p.createdAt}); nothing was changed.`,
      checksumLine(p),
      ...impactLines(p.impact, true),
      `To confirm, run: ${confirm}`,
    ].join('\n') + '\n'
  );
}

export function serviceLine(s: ServiceStatus, maintenance: 'on' | 'off'): string {
  return maintenance === 'on'
    ? `Maintenance stays on; the service is ${s.detail}`
    : `Maintenance is off; the service is ${s.detail}`;
}

export function formatRestore(r: RestoreReport): string {
  const rows = total(r.rowCounts);
  return (
    [
      `Restored ${r.id}: ${rows} rows in ${Object.keys(r.rowCounts).length} tables, schema ` +
        `${r.schemaVersionAfter ?? 'none'}, in ${(r.durationMs / 1000).toFixed(1)} s.`,
      ...(r.checksum === 'verified' ? [] : [checksumLine(r)]),
      ...impactLines(r.impact, false),
      r.acknowledged.length
        ? `Every replica stopped first: ${r.acknowledged.map((a) => a.id).join(', ')}.`
        : 'No replica was running during the restore.',
      serviceLine(r.service, r.maintenance),
    ].join('\n') + '\n'
  );
}

export function formatMaintenance(m: MaintenanceReport): string {
  const head = m.enabled
    ? `Maintenance on since ${m.since} (${m.reason ?? 'no reason'}).`
    : 'Maintenance off.';
  const replicas = m.service.replicas;
  const state = m.enabled
    ? replicas.length
      ? `${replicas.filter((r) => !r.resumed).length} of ${replicas.length} replica(s) acknowledged (halted, writes refused): ${replicas.map((r) => r.id).join(', ')}.`
      : m.service.detail
    : `The service is ${m.service.detail}`;
  return `${head}\n${state}\n`;
}
