// A dependency the service needs, as seen by /health: a name and a cheap probe that throws when down.

export interface HealthProbe {
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
}
