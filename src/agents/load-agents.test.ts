// The agent catalogue on real directories: nesting, bad files, overrides, duplicates, symlinks,
// size limits, and the shipped built-in library itself.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentRole } from '../domain/agent-definition.js';
import { BUILTIN_AGENTS_DIR, MAX_AGENT_FILE_BYTES, loadAgents } from './load-agents.js';

let tmp: string;
let builtinDir: string;
let userDir: string;

function agentFile(name: string, extra = '', body = `You are ${name}.`): string {
  return `---\nname: ${name}\ndescription: The ${name} agent\n${extra}---\n${body}\n`;
}

function write(dir: string, rel: string, content: string): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-agents-'));
  builtinDir = path.join(tmp, 'builtin');
  userDir = path.join(tmp, 'user');
  write(builtinDir, 'coder.md', agentFile('coder'));
  write(builtinDir, 'reviewer.md', agentFile('reviewer', 'role: validator\n'));
  fs.mkdirSync(userDir);
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('loadAgents', () => {
  it('loads the built-ins with source "builtin" and user files recursively with their path', async () => {
    const top = write(userDir, 'top.md', agentFile('top'));
    const deep = write(userDir, 'team/backend/deep.md', agentFile('deep', 'tools: Read, Bash\n'));
    const { agents, problems, overrides } = await loadAgents({ builtinDir, userDir });
    expect(problems).toEqual([]);
    expect(overrides).toEqual([]);
    expect([...agents.keys()].sort()).toEqual(['coder', 'deep', 'reviewer', 'top']);
    expect(agents.get('coder')?.source).toBe('builtin');
    expect(agents.get('reviewer')?.role).toBe('validator');
    expect(agents.get('top')?.source).toBe(top);
    expect(agents.get('deep')).toMatchObject({ source: deep, tools: ['Read', 'Bash'] });
  });

  it('reports a bad file with its path and reason, skips it, and keeps the rest', async () => {
    const bad = write(userDir, 'sub/bad.md', '---\nname: bad\n---\nNo description.\n');
    const bogus = write(userDir, 'bogus.md', 'no frontmatter at all');
    write(userDir, 'good.md', agentFile('good'));
    const { agents, problems } = await loadAgents({ builtinDir, userDir });
    expect(agents.has('good')).toBe(true);
    expect(agents.has('bad')).toBe(false);
    expect(problems).toHaveLength(2);
    expect(problems).toContainEqual({
      source: bad,
      reason: expect.stringMatching(/"description" is required/) as unknown,
    });
    expect(problems).toContainEqual({
      source: bogus,
      reason: expect.stringMatching(/frontmatter/) as unknown,
    });
  });

  it('lets a user file override a built-in of the same name, and says which won', async () => {
    const mine = write(userDir, 'my-coder.md', agentFile('coder', 'model: opus\n', 'My coder.'));
    const { agents, problems, overrides } = await loadAgents({ builtinDir, userDir });
    expect(problems).toEqual([]);
    expect(overrides).toEqual([{ name: 'coder', source: mine }]);
    expect(agents.get('coder')).toMatchObject({
      source: mine,
      model: 'opus',
      systemPrompt: 'My coder.',
    });
  });

  it('keeps the first of two user files with one name (sorted path order) and reports the second', async () => {
    const second = write(userDir, 'b/dup.md', agentFile('dup', '', 'second'));
    const first = write(userDir, 'a/dup.md', agentFile('dup', '', 'first'));
    const { agents, problems } = await loadAgents({ builtinDir, userDir });
    expect(agents.get('dup')).toMatchObject({ source: first, systemPrompt: 'first' });
    expect(problems).toEqual([
      { source: second, reason: `duplicate name "dup": also defined in ${first}` },
    ]);
  });

  it('skips symlinks that leave the directory as problems, and follows those that stay inside', async () => {
    const outside = path.join(tmp, 'outside');
    write(outside, 'evil.md', agentFile('evil'));
    write(outside, 'nested/also-evil.md', agentFile('also-evil'));
    const fileLink = path.join(userDir, 'evil.md');
    const dirLink = path.join(userDir, 'linked-dir');
    fs.symlinkSync(path.join(outside, 'evil.md'), fileLink);
    fs.symlinkSync(path.join(outside, 'nested'), dirLink);
    // Inside: a .md link to a file the walk itself ignores (not .md), and a link to a parent.
    write(userDir, 'store/inner.txt', agentFile('inner'));
    fs.symlinkSync(path.join(userDir, 'store', 'inner.txt'), path.join(userDir, 'inner.md'));
    fs.symlinkSync(userDir, path.join(userDir, 'store', 'loop'));

    const { agents, problems } = await loadAgents({ builtinDir, userDir });
    expect(agents.has('evil')).toBe(false);
    expect(agents.has('also-evil')).toBe(false);
    expect(agents.get('inner')?.source).toBe(path.join(userDir, 'inner.md'));
    expect(problems.map((p) => p.source).sort()).toEqual([fileLink, dirLink].sort());
    for (const p of problems) expect(p.reason).toMatch(/symlink points outside/);
  });

  it('ignores files that are not .md', async () => {
    write(userDir, 'README.txt', 'not an agent');
    write(userDir, 'notes.markdown', 'not an agent');
    write(userDir, 'agent.md.bak', 'not an agent');
    write(userDir, 'deep/config.yaml', 'name: x');
    write(userDir, 'real.md', agentFile('real'));
    const { agents, problems } = await loadAgents({ builtinDir, userDir });
    expect(problems).toEqual([]);
    expect([...agents.keys()].sort()).toEqual(['coder', 'real', 'reviewer']);
  });

  it('reports files larger than 256 KiB', async () => {
    const big = write(userDir, 'big.md', agentFile('big', '', 'x'.repeat(MAX_AGENT_FILE_BYTES)));
    const { agents, problems } = await loadAgents({ builtinDir, userDir });
    expect(agents.has('big')).toBe(false);
    expect(problems).toEqual([
      { source: big, reason: expect.stringMatching(/larger than the 256 KiB limit/) as unknown },
    ]);
  });

  it('reports a file that is not UTF-8', async () => {
    const latin1 = path.join(userDir, 'latin1.md');
    fs.writeFileSync(latin1, Buffer.from(agentFile('caf\u00e9'), 'latin1'));
    const { problems } = await loadAgents({ builtinDir, userDir });
    expect(problems).toEqual([{ source: latin1, reason: 'the file is not valid UTF-8 text' }]);
  });

  it('accepts a missing or unset user directory without a problem', async () => {
    for (const dir of [path.join(tmp, 'does-not-exist'), undefined]) {
      const { agents, problems } = await loadAgents({ builtinDir, userDir: dir });
      expect(problems).toEqual([]);
      expect([...agents.keys()].sort()).toEqual(['coder', 'reviewer']);
    }
  });

  it('reports a user directory that is a file, and a missing built-in library', async () => {
    const notDir = write(tmp, 'not-a-dir', 'x');
    const missing = path.join(tmp, 'no-library');
    const { agents, problems } = await loadAgents({ builtinDir: missing, userDir: notDir });
    expect(agents.size).toBe(0);
    expect(problems).toEqual([
      { source: missing, reason: 'the built-in agent library directory does not exist' },
      { source: notDir, reason: 'is not a directory' },
    ]);
  });
});

describe('the built-in library', () => {
  const EXPECTED: Record<string, AgentRole> = {
    coder: 'implementer',
    'backend-developer': 'implementer',
    'frontend-dev': 'implementer',
    tester: 'implementer',
    researcher: 'implementer',
    'devops-engineer': 'implementer',
    architect: 'implementer',
    reviewer: 'validator',
    'security-specialist': 'validator',
    'product-owner': 'product-owner',
    coordinator: 'coordinator',
  };
  const CONTRACT_KEYS: Record<AgentRole, string[]> = {
    implementer: ['confidence', 'summary', 'files'],
    validator: ['score', 'approve', 'feedback', 'issues'],
    'product-owner': ['decision', 'rationale'],
    coordinator: ['subtasks', 'summary'],
  };

  it('loads with no problems and holds the eleven agents with their roles', async () => {
    const { agents, problems } = await loadAgents({ builtinDir: BUILTIN_AGENTS_DIR });
    expect(problems).toEqual([]);
    expect(Object.fromEntries([...agents.values()].map((a) => [a.name, a.role]))).toEqual(EXPECTED);
    for (const a of agents.values()) {
      expect(a.source).toBe('builtin');
      expect(a.model).toBe('sonnet');
      expect(a.tools.length).toBeGreaterThan(0);
    }
  });

  it('gives every agent a 25-60 line prompt ending in a valid example of its output contract', async () => {
    const { agents } = await loadAgents({ builtinDir: BUILTIN_AGENTS_DIR });
    for (const a of agents.values()) {
      const lines = a.systemPrompt.split('\n').length;
      expect(lines, a.name).toBeGreaterThanOrEqual(25);
      expect(lines, a.name).toBeLessThanOrEqual(60);
      const examples = [...a.systemPrompt.matchAll(/```json\n([\s\S]*?)\n```/g)];
      const example = examples.at(-1)?.[1];
      expect(example, `${a.name} has a JSON example`).toBeDefined();
      const parsed = JSON.parse(example ?? '') as Record<string, unknown>;
      expect(Object.keys(parsed), a.name).toEqual(CONTRACT_KEYS[a.role]);
    }
  });
});
