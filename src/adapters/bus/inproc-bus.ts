// The embedded EventBus: an in-process emitter (one process holds every SSE stream and call).
import { EventEmitter } from 'node:events';
import type { BusMessage, EventBus } from '../../ports/event-bus.js';

export function createInprocBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0); // one listener per open SSE stream
  return {
    async publish(message: BusMessage) {
      emitter.emit('message', message);
    },
    subscribe(listener) {
      emitter.on('message', listener);
      return () => emitter.off('message', listener);
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}
