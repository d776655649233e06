// A dependency the service needs, as seen by /health: a name and a cheap probe that throws when down.

export interface HealthProbe {
  readonly name: string;
  /**
   * False for a dependency the service keeps serving without (Redis, a read replica): its failure
   * degrades the service, reported by name, but does not make it unready. Default true.
   */
  readonly required?: boolean;
  check(signal: AbortSignal): Promise<void>;
}
