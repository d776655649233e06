// The registry of the processes that serve the API or run jobs (replicas), shared through the
// database: each heartbeats, and acknowledges maintenance once it writes nothing, so a restore
// knows when every one of them has stopped, and can tell afterwards how the service is.

export interface ReplicaHealth {
  status: 'ok' | 'degraded' | 'error';
  /** Names of the failing checks. */
  failing?: string[];
}

export interface ReplicaBeat {
  id: string;
  /** `all` (cfn start), `api` (cfn serve) or `worker` (cfn worker). */
  role: string;
  host: string;
  pid: number;
  version: string;
  startedAt: Date;
  /** The maintenance (its `since`) this replica acknowledged; null when it runs normally. */
  ackSince: string | null;
  health: ReplicaHealth | null;
}

export interface ReplicaRecord extends ReplicaBeat {
  heartbeatAt: Date;
  ackAt: Date | null;
  /** Milliseconds since the last heartbeat, by the database's clock (no skew between hosts). */
  ageMs: number;
}

export interface ReplicaRegistry {
  /** Records a heartbeat (the database's time) with the replica's current state. */
  heartbeat(beat: ReplicaBeat): Promise<void>;
  list(): Promise<ReplicaRecord[]>;
  remove(id: string): Promise<void>;
  /** Removes the rows of replicas not heard from for `maxAgeMs` (processes long gone). */
  prune(maxAgeMs: number): Promise<number>;
}
