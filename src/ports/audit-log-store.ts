// The append-only record of privileged actions (who did what to which target, from where);
// rows leave it only through the retention policy (deleteBefore).

export interface AuditEntry {
  action: string;
  actorKeyId: string | null;
  actorName: string;
  target: string | null;
  details: Readonly<Record<string, unknown>>;
  requestId: string | null;
  ip: string | null;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  at: Date;
}

export interface AuditLogStore {
  append(entry: AuditEntry): Promise<AuditRecord>;
  /** Newest first; `before` is an id cursor for paging. */
  list(options: { limit: number; before?: number; action?: string }): Promise<AuditRecord[]>;
  /** Entries written before `cutoff` (retention, dry run). */
  countBefore(cutoff: Date): Promise<number>;
  /** Deletes entries written before `cutoff` (retention only); returns how many went. */
  deleteBefore(cutoff: Date): Promise<number>;
}
