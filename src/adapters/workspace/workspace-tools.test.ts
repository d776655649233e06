import { mkdtemp, readFile, realpath, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestSandbox } from '../../../test/support/sandbox.js';
import type { ToolCall } from '../../ports/provider.js';
import type { Workspace } from '../../ports/workspace.js';
import { createRefusingSandbox } from '../sandbox/unconfined-sandbox.js';
import { createFsWorkspace } from './fs-workspace.js';
import { executeToolCall, toolsForAgent, WORKSPACE_TOOLS } from './workspace-tools.js';

let dir: string;
let ws: Workspace;
const options = {
  signal: new AbortController().signal,
  commandTimeoutMs: 10_000,
  allowList: ['cat', 'sh', 'ls'],
};

beforeEach(async () => {
  dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'cfn-tools-')));
  const sandbox = await createTestSandbox(path.join(dir, 'support'));
  ws = await createFsWorkspace(path.join(dir, 'ws'), { sandbox });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const call = (name: string, input: Record<string, unknown>): ToolCall => ({
  id: 'call-1',
  name,
  input,
});

describe('executeToolCall', () => {
  it('writes, reads and lists files', async () => {
    const written = await executeToolCall(
      ws,
      call('write_file', { path: 'src/a.ts', content: 'const a = 1;' }),
      options,
    );
    expect(written).toEqual({ content: 'Wrote 12 bytes to src/a.ts.', isError: false });
    expect(await readFile(path.join(ws.root, 'src', 'a.ts'), 'utf8')).toBe('const a = 1;');

    expect(await executeToolCall(ws, call('read_file', { path: 'src/a.ts' }), options)).toEqual({
      content: 'const a = 1;',
      isError: false,
    });
    expect(await executeToolCall(ws, call('list_files', {}), options)).toEqual({
      content: 'src/\nsrc/a.ts (12 bytes)',
      isError: false,
    });
    expect(await executeToolCall(ws, call('list_files', { path: 'src' }), options)).toEqual({
      content: 'src/a.ts (12 bytes)',
      isError: false,
    });
  });

  it('runs allowed commands and reports the exit code', async () => {
    await ws.writeFile('t.txt', 'content');
    const ok = await executeToolCall(ws, call('run_command', { command: 'cat t.txt' }), options);
    expect(ok).toEqual({ content: 'Exit code: 0\ncontent', isError: false });
    const failed = await executeToolCall(
      ws,
      call('run_command', { command: 'cat missing.txt' }),
      options,
    );
    expect(failed.isError).toBe(false);
    expect(failed.content).toMatch(/^Exit code: 1\n.*missing\.txt/s);
  });

  it('reports a timed-out command as an error', async () => {
    const result = await executeToolCall(
      ws,
      call('run_command', { command: 'sh -c "exec sleep 30"' }),
      {
        ...options,
        commandTimeoutMs: 200,
      },
    );
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/^Timed out after 200 ms/);
  });

  it('refuses commands outside the allow list', async () => {
    const result = await executeToolCall(ws, call('run_command', { command: 'touch x' }), options);
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/Not allowed: command "touch" is not allowed/);
    const chained = await executeToolCall(
      ws,
      call('run_command', { command: 'cat a; touch x' }),
      options,
    );
    expect(chained.isError).toBe(true);
    expect(chained.content).toMatch(/metacharacters/);
    const none = await executeToolCall(ws, call('run_command', { command: 'ls' }), {
      ...options,
      allowList: [],
    });
    expect(none.isError).toBe(true);
  });

  it('runs any command line when the operator set no filter (the sandbox is the boundary)', async () => {
    await ws.writeFile('t.txt', 'b\na\n');
    const piped = await executeToolCall(
      ws,
      call('run_command', { command: 'sort t.txt | head -1 && echo $HOME' }),
      { ...options, allowList: undefined },
    );
    expect(piped).toEqual({ content: 'Exit code: 0\na\n/home/sandbox\n', isError: false });
  });

  it('answers with a tool error saying why and what to do when commands are refused', async () => {
    const refused = await createFsWorkspace(path.join(dir, 'ws'), {
      sandbox: createRefusingSandbox('commands are refused: no working sandbox (bwrap missing)'),
    });
    const result = await executeToolCall(refused, call('run_command', { command: 'ls' }), options);
    expect(result).toEqual({
      content:
        'Commands are unavailable: commands are refused: no working sandbox (bwrap missing). ' +
        'Work with read_file, write_file and list_files instead.',
      isError: true,
    });
  });

  it('turns bad input into an error result naming the problem', async () => {
    const missing = await executeToolCall(ws, call('write_file', { path: 'a.txt' }), options);
    expect(missing.isError).toBe(true);
    expect(missing.content).toMatch(/Invalid input for write_file/);
    expect(missing.content).toMatch(/content/);
    const wrongType = await executeToolCall(ws, call('read_file', { path: 42 }), options);
    expect(wrongType.isError).toBe(true);
    expect(wrongType.content).toMatch(/path/);
  });

  it('refuses escapes with a message about the workspace', async () => {
    await symlink('/etc', path.join(ws.root, 'etc'));
    for (const input of [{ path: '../x' }, { path: '/etc/passwd' }, { path: 'etc/passwd' }]) {
      const result = await executeToolCall(ws, call('read_file', input), options);
      expect(result.isError).toBe(true);
      expect(result.content).toMatch(/workspace/);
      expect(result.content).toMatch(/^Refused/);
    }
    const write = await executeToolCall(
      ws,
      call('write_file', { path: '../x', content: 'x' }),
      options,
    );
    expect(write.isError).toBe(true);
    expect(write.content).toMatch(/inside the workspace/);
  });

  it('reports missing files and unknown tools as errors', async () => {
    const missing = await executeToolCall(ws, call('read_file', { path: 'nope.txt' }), options);
    expect(missing).toEqual({
      content: 'Not found: "nope.txt" does not exist in the workspace.',
      isError: true,
    });
    const unknown = await executeToolCall(ws, call('delete_everything', {}), options);
    expect(unknown.isError).toBe(true);
    expect(unknown.content).toMatch(/Unknown tool "delete_everything".*read_file/);
    const proto = await executeToolCall(ws, call('toString', {}), options);
    expect(proto.isError).toBe(true);
  });
});

describe('tool specs', () => {
  it('describes four tools with object input schemas', () => {
    expect(WORKSPACE_TOOLS.map((t) => t.name)).toEqual([
      'read_file',
      'write_file',
      'list_files',
      'run_command',
    ]);
    for (const tool of WORKSPACE_TOOLS) {
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.inputSchema).not.toHaveProperty('$schema');
      expect(tool.description.length).toBeGreaterThan(20);
    }
    expect(WORKSPACE_TOOLS[1]?.inputSchema.required).toEqual(['path', 'content']);
    expect(WORKSPACE_TOOLS[0]?.description).toMatch(/relative to the workspace root/);
  });

  it('maps Claude Code tool names to workspace tools', () => {
    const names = (tools: string[]) => toolsForAgent(tools).map((t) => t.name);
    expect(names([])).toEqual(['read_file', 'write_file', 'list_files', 'run_command']);
    expect(names(['Read', 'Grep', 'Glob'])).toEqual(['read_file', 'list_files']);
    expect(names(['Edit', 'Write'])).toEqual(['write_file']);
    expect(names(['Bash(npm test:*)', 'LS'])).toEqual(['list_files', 'run_command']);
    expect(names(['run_command', 'read_file'])).toEqual(['read_file', 'run_command']);
    expect(names(['WebSearch'])).toEqual([]);
  });

  it("names the operator's command filter in run_command's description, when there is one", () => {
    const runCommand = (allowList?: string[]) =>
      toolsForAgent(['Bash'], allowList)[0]?.description ?? '';
    expect(runCommand()).toMatch(/sandbox/);
    expect(runCommand()).not.toMatch(/Only these programs/);
    expect(runCommand(['npm', 'git'])).toMatch(
      /Only these programs may start a command: npm, git;/,
    );
  });
});
