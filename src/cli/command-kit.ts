// What every API-calling command shares: the --url/--key/--json options, number parsers, the
// terminal I/O (injectable for tests) and the client built from the parsed options.
import { InvalidArgumentError, Option } from 'commander';
import { createApiClient, type ApiClient } from './api-client.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal: redraw a status line in place. */
  isTTY: boolean;
  /** The terminal's width (a redrawn line must not wrap). */
  columns(): number;
  /** Calls `listener` on Ctrl-C (SIGINT) until the returned function is called. */
  onInterrupt(listener: () => void): () => void;
}

export interface CliIoDeps {
  fetch?: typeof fetch;
  out?: (text: string) => void;
  err?: (text: string) => void;
  isTTY?: boolean;
  columns?: () => number;
  onInterrupt?: (listener: () => void) => () => void;
}

export function resolveIo(deps: CliIoDeps): CliIo {
  return {
    out: deps.out ?? ((t) => void process.stdout.write(t)),
    err: deps.err ?? ((t) => void process.stderr.write(t)),
    // An injected `out` is not a terminal unless the caller says so.
    isTTY: deps.isTTY ?? (deps.out ? false : process.stdout.isTTY === true),
    columns: deps.columns ?? (() => process.stdout.columns || 80),
    onInterrupt:
      deps.onInterrupt ??
      ((listener) => {
        process.on('SIGINT', listener);
        return () => void process.off('SIGINT', listener);
      }),
  };
}

export interface ConnectionOptions {
  url: string;
  key?: string;
}

export const urlOption = () =>
  new Option('--url <url>', 'base URL of the service')
    .env('CFN_URL')
    .default('http://127.0.0.1:3000');
export const keyOption = () =>
  new Option('--key <key>', 'API key to authenticate with').env('CFN_API_KEY');
export const jsonOption = () => new Option('--json', 'print JSON instead of a table');

export function clientFor(opts: ConnectionOptions, deps: CliIoDeps): ApiClient {
  return createApiClient({
    url: opts.url,
    key: opts.key,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

/** Parser for repeatable options: `--agent a --agent b` gives ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Quotes a shell argument only when it needs it (for commands we print for the user to run). */
export function shellArg(value: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
