// Collects the service's JSON log lines in memory so tests can assert on them.
import { Writable } from 'node:stream';

export interface LogCapture {
  stream: Writable & { write(chunk: string): boolean };
  lines(): Array<Record<string, unknown>>;
  text(): string;
}

export function captureLogs(): LogCapture {
  let buffer = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      buffer += chunk.toString();
      done();
    },
  });
  return {
    stream: stream as LogCapture['stream'],
    text: () => buffer,
    lines: () =>
      buffer
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
