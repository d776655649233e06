// The append-only record of privileged actions (who did what to which target, from where).

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
}
