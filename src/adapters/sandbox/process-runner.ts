// Runs one program in its own process group and turns it into a CommandResult: output kept as a
// bounded tail, the whole group killed on timeout or abort (SIGTERM, then SIGKILL). Never rejects.
import { spawn } from 'node:child_process';
import type { CommandResult } from '../../ports/workspace.js';

export interface ProcessRun {
  /** Program and arguments, run without a shell of ours. */
  argv: readonly [string, ...string[]];
  cwd: string;
  /** The child's whole environment. */
  env: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Bytes of stdout kept (the tail). */
  maxOutputBytes: number;
  /** Label of what the program says on stderr, appended to the output when it says anything. */
  stderrLabel: string;
}

const KILL_GRACE_MS = 500;
/** After the program exits, how long a straggler may keep the output pipe open before we stop reading. */
const PIPE_DRAIN_MS = 1_000;
/** stderr is the wrapper's own voice (the command's stderr is merged into stdout): a little is enough. */
const STDERR_KEEP_BYTES = 4 * 1024;

export function runProcess(run: ProcessRun): Promise<CommandResult> {
  const started = performance.now();
  const output = createTailBuffer(run.maxOutputBytes);
  const diagnostics = createTailBuffer(STDERR_KEEP_BYTES);
  if (run.signal?.aborted) {
    return Promise.resolve({
      exitCode: null,
      signal: null,
      output: '[aborted before start]',
      durationMs: 0,
      timedOut: false,
    });
  }
  return new Promise<CommandResult>((resolvePromise) => {
    const [program, ...args] = run.argv;
    const child = spawn(program, args, {
      cwd: run.cwd,
      env: run.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let timedOut = false;
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];

    const killGroup = (signal: NodeJS.Signals): boolean => {
      if (child.pid === undefined) return false;
      try {
        process.kill(-child.pid, signal);
        return true;
      } catch {
        return false; // ESRCH: the group is already gone
      }
    };
    const terminate = (): void => {
      if (killGroup('SIGTERM')) {
        const escalate = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
        escalate.unref();
      }
    };
    const onAbort = (): void => {
      clearTimeout(timeout); // an abort is not a timeout, however long the group takes to die
      terminate();
    };
    const finish = (extra?: string): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      run.signal?.removeEventListener('abort', onAbort);
      const said = diagnostics.text().trim();
      resolvePromise({
        exitCode,
        signal: exitSignal,
        output: output.text() + (said ? `\n[${run.stderrLabel}: ${said}]` : '') + (extra ?? ''),
        durationMs: Math.round(performance.now() - started),
        timedOut,
      });
    };

    const timeout = setTimeout(() => {
      timedOut = true;
      terminate();
    }, run.timeoutMs);
    timers.push(timeout);
    run.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => diagnostics.push(chunk));
    child.on('error', (error) => {
      finish(`\n[failed to start: ${error.message}]`);
    });
    child.on('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      clearTimeout(timeout);
      // Background processes the command left behind belong to its group; end them too.
      terminate();
      // A process that escaped the group may hold the pipes open; stop waiting for it.
      const drain = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, PIPE_DRAIN_MS);
      timers.push(drain);
    });
    child.on('close', () => finish());
  });
}

/** Keeps the last `limit` bytes of a stream and how many were dropped before them. */
function createTailBuffer(limit: number): { push(chunk: Buffer): void; text(): string } {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  return {
    push(chunk) {
      chunks.push(chunk);
      kept += chunk.length;
      while (kept > limit && chunks.length > 0) {
        const first = chunks[0] as Buffer;
        const excess = kept - limit;
        if (first.length <= excess) {
          chunks.shift();
          kept -= first.length;
          dropped += first.length;
        } else {
          chunks[0] = first.subarray(excess);
          kept -= excess;
          dropped += excess;
        }
      }
    },
    text() {
      let tail = Buffer.concat(chunks);
      if (dropped === 0) return tail.toString('utf8');
      // Skip UTF-8 continuation bytes so the kept tail starts on a character boundary.
      let start = 0;
      while (start < tail.length && start < 4 && ((tail[start] as number) & 0xc0) === 0x80)
        start += 1;
      tail = tail.subarray(start);
      return `[output truncated: first ${dropped + start} bytes omitted]\n${tail.toString('utf8')}`;
    },
  };
}

/** The argv that runs `commandLine` with stderr merged into stdout in true order. */
export function shellArgv(commandLine: string): [string, string, string] {
  // `exec 2>&1` first, so stdout and stderr share one pipe and interleave in true order.
  return ['/bin/sh', '-c', `exec 2>&1\n${commandLine}`];
}
