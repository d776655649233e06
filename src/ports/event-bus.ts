// Fan-out of live signals between the parts of a deployment: new swarm events (for SSE streams)
// and cancellations (to abort calls in flight wherever they run). In-process now, Redis later.

export type BusMessage =
  { kind: 'events'; swarmId: string; lastSeq: number } | { kind: 'cancel'; swarmId: string };

export interface EventBus {
  publish(message: BusMessage): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(listener: (message: BusMessage) => void): () => void;
  close(): Promise<void>;
}
