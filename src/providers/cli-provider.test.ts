// The CLI adapter against real subprocesses (node -e scripts): output parsing, stdin, cwd, exit
// codes, and that abort or timeout takes down the command's whole process group.
import { EventEmitter, once } from 'node:events';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError, type CompletionRequest } from '../ports/provider.js';
import { createCliProvider, renderPrompt } from './cli-provider.js';

const node = process.execPath;

function request(over: Partial<CompletionRequest> = {}): CompletionRequest {
  return {
    system: 'You are a careful engineer.',
    messages: [{ role: 'user', content: 'Fix the bug.' }],
    maxTokens: 1000,
    signal: new AbortController().signal,
    timeoutMs: 10_000,
    ...over,
  };
}

/** A provider whose command is `node -e <script> ...args`. */
function script(source: string, ...args: string[]) {
  return createCliProvider({
    name: 'cli',
    command: [node, '-e', source, ...args],
    defaultModel: 'm1',
  });
}

async function failure(call: Promise<unknown>): Promise<ProviderError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected the call to fail');
}

describe('cli provider output', () => {
  it('takes text and usage from Claude Code JSON output', async () => {
    const output = {
      type: 'result',
      subtype: 'success',
      is_error: false,
      result: 'Done: fixed the off-by-one.',
      usage: {
        input_tokens: 120,
        cache_creation_input_tokens: 10,
        cache_read_input_tokens: 5,
        output_tokens: 42,
      },
      modelUsage: { 'claude-sonnet-4-6': {} },
    };
    const provider = script(`process.stdout.write(${JSON.stringify(JSON.stringify(output))})`);
    const deltas: string[] = [];
    const result = await provider.complete(request({ onText: (d) => deltas.push(d) }));
    expect(result).toEqual({
      text: 'Done: fixed the off-by-one.',
      toolCalls: [],
      usage: { inputTokens: 135, outputTokens: 42 },
      model: 'claude-sonnet-4-6',
      stopReason: 'success',
      attempts: 1,
    });
    expect(deltas).toEqual(['Done: fixed the off-by-one.']);
    expect(provider).toMatchObject({ kind: 'cli', supportsTools: false, defaultModel: 'm1' });
  });

  it('takes plain stdout as the text and estimates usage', async () => {
    const result = await script(`console.log('  plain answer, twenty-eight  \\n')`).complete(
      request(),
    );
    expect(result.text).toBe('plain answer, twenty-eight');
    expect(result.usage.outputTokens).toBe(7);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.model).toBe('m1');
  });

  it('treats JSON without a result string as plain text', async () => {
    const result = await script(`console.log('{"answer": 42}')`).complete(request());
    expect(result.text).toBe('{"answer": 42}');
  });

  it('fails with process and the stderr tail on a non-zero exit', async () => {
    const err = await failure(
      script(`for (let i = 1; i <= 30; i++) console.error('line ' + i); process.exit(3)`).complete(
        request(),
      ),
    );
    expect(err.kind).toBe('process');
    expect(err.message).toContain('exited with code 3');
    expect(err.message).toContain('line 30');
    expect(err.message).toContain('line 11');
    expect(err.message).not.toContain('line 10\n');
  });

  it('fails with process when Claude Code reports is_error', async () => {
    const output = JSON.stringify({
      subtype: 'error_max_turns',
      is_error: true,
      result: 'gave up',
    });
    const err = await failure(
      script(`process.stdout.write(${JSON.stringify(output)})`).complete(request()),
    );
    expect(err).toMatchObject({ kind: 'process' });
    expect(err.message).toContain('gave up');
  });

  it('fails with process when the program cannot be started', async () => {
    const provider = createCliProvider({
      name: 'missing',
      command: ['/nonexistent/cfn-no-such-binary'],
      defaultModel: 'm',
    });
    const err = await failure(provider.complete(request()));
    expect(err.kind).toBe('process');
    expect(err.message).toContain('ENOENT');
  });
});

describe('cli provider input', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'cli-provider-')));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the rendered prompt to stdin', async () => {
    const echo = `let s = ''; process.stdin.setEncoding('utf8');
      process.stdin.on('data', (d) => (s += d)).on('end', () => process.stdout.write(JSON.stringify({ result: s })));`;
    const messages: CompletionRequest['messages'] = [
      { role: 'user', content: 'Read a.txt' },
      { role: 'assistant', content: 'Reading.', toolCalls: [{ id: 't', name: 'read', input: {} }] },
      { role: 'tool', toolCallId: 't', name: 'read', content: 'hello' },
    ];
    const result = await script(echo).complete(request({ messages }));
    expect(result.text).toBe(renderPrompt('You are a careful engineer.', messages));
    expect(result.text).toBe(
      'You are a careful engineer.\n\n## User\n\nRead a.txt\n\n## Assistant\n\nReading.\n\n## Tool result (read)\n\nhello\n',
    );
  });

  it('sends a lone user message without headings', () => {
    expect(renderPrompt('', [{ role: 'user', content: 'just this' }])).toBe('just this\n');
  });

  it('runs in the request cwd, with {model} substituted and the configured env', async () => {
    const provider = createCliProvider({
      name: 'cli',
      command: [
        node,
        '-e',
        `console.log(JSON.stringify({ cwd: process.cwd(), argv: process.argv.slice(1), env: process.env.CFN_TEST_VAR }))`,
        '--',
        '--model',
        '{model}',
      ],
      defaultModel: 'default-model',
      env: { CFN_TEST_VAR: 'from-config' },
    });
    const result = await provider.complete(request({ cwd: dir, model: 'opus' }));
    expect(JSON.parse(result.text)).toEqual({
      cwd: dir,
      argv: ['--model', 'opus'],
      env: 'from-config',
    });
    const fallback = await provider.complete(request({ cwd: dir }));
    expect(JSON.parse(fallback.text).argv).toEqual(['--model', 'default-model']);
  });
});

/**
 * A TCP server the command and its grandchild connect to: each connection announces a pid, and
 * its close is the kernel telling us that process is gone (no polling for the kill).
 */
async function startPidBeacon() {
  const sockets = new Map<string, { pid: number; socket: Socket; closed: Promise<unknown> }>();
  const events = new EventEmitter();
  const server: Server = createServer((socket) => {
    socket.setEncoding('utf8');
    let buffer = '';
    const closed = once(socket, 'close');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const match = /^(\w+):(\d+)\n/.exec(buffer);
      if (match?.[1] && match[2]) {
        sockets.set(match[1], { pid: Number(match[2]), socket, closed });
        events.emit('pid');
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    sockets,
    /** Resolves once both the command and its grandchild have announced themselves. */
    async ready(timeoutMs = 5_000) {
      const deadline = AbortSignal.timeout(timeoutMs);
      while (!(sockets.has('child') && sockets.has('grandchild'))) {
        await once(events, 'pid', { signal: deadline });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A process that exited but was not reaped yet is a zombie: gone for our purposes. */
async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The kernel closes a dying process's sockets a moment before it is marked exited, and nothing
 * signals the exit of a process we did not start, so this one check polls, briefly and bounded.
 */
async function waitUntilGone(pid: number, timeoutMs = 1_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await isRunning(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still running`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** node -e source for a command that starts a grandchild and then waits forever. */
function familySource(port: number, ignoreTerm: boolean): string {
  const trap = ignoreTerm ? `process.on('SIGTERM', () => {});` : '';
  const announce = (role: string) =>
    `require('net').connect(${port}, '127.0.0.1', function () { this.write('${role}:' + process.pid + '\\n'); });`;
  const grandchild = `${trap} ${announce('grandchild')} setInterval(() => {}, 1000);`;
  return `${trap}
    require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: 'ignore' });
    ${announce('child')}
    setInterval(() => {}, 1000);`;
}

describe('cli provider cancellation', () => {
  it.each([
    ['SIGTERM', false],
    ['SIGKILL after the grace period', true],
  ])('abort kills the whole process group (%s) within 2 s', async (_label, ignoreTerm) => {
    const beacon = await startPidBeacon();
    try {
      const controller = new AbortController();
      const call = script(familySource(beacon.port, ignoreTerm)).complete(
        request({ signal: controller.signal }),
      );
      await beacon.ready();
      const abortedAt = Date.now();
      controller.abort();
      const err = await failure(call);
      expect(err.kind).toBe('aborted');
      expect(Date.now() - abortedAt).toBeLessThan(2_000);
      // Both the command and the grandchild it started are gone, within the same 2 s.
      await Promise.all([...beacon.sockets.values()].map((s) => s.closed));
      for (const { pid } of beacon.sockets.values()) await waitUntilGone(pid);
      expect(Date.now() - abortedAt).toBeLessThan(2_000);
    } finally {
      await beacon.close();
    }
  });

  it('times out with kind timeout and kills the group', async () => {
    const beacon = await startPidBeacon();
    try {
      const call = script(familySource(beacon.port, false)).complete(request({ timeoutMs: 1_500 }));
      await beacon.ready();
      const err = await failure(call);
      expect(err.kind).toBe('timeout');
      await Promise.all([...beacon.sockets.values()].map((s) => s.closed));
      for (const { pid } of beacon.sockets.values()) await waitUntilGone(pid);
    } finally {
      await beacon.close();
    }
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await failure(
      script(`process.exit(0)`).complete(request({ signal: controller.signal })),
    );
    expect(err.kind).toBe('aborted');
  });
});
