// Any byte sequence survives: a model answer holding NUL and unpaired surrogates, and a command
// whose output is binary (NUL, invalid UTF-8), are stored and returned as they were (invalid UTF-8
// as the replacement character the model was shown); the swarm goes on, with no call repeated.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentOf, startSwarmHarness, type SwarmHarness } from '../support/swarm-harness.js';

let h: SwarmHarness;
beforeAll(async () => {
  h = await startSwarmHarness();
});
afterAll(async () => {
  await h?.stop();
});

// Built from code points so no tool rewrites them: NUL, a lone high and a lone low surrogate.
const NUL = String.fromCharCode(0);
const HIGH = String.fromCharCode(0xd800);
const LOW = String.fromCharCode(0xdfff);
const hostile = `a${NUL}b ${HIGH} c ${LOW} \uffff0`;

describe('hostile output', () => {
  it('stores and returns answers and command output with NUL, lone surrogates and invalid UTF-8', async () => {
    fs.mkdirSync(path.join(h.dir, 'workspaces', 'binary'), { recursive: true });
    let implementerCalls = 0;
    h.llm.setResponder((req) => {
      if (agentOf(req) === 'val-a')
        return { text: JSON.stringify({ score: 0.95, approve: true, feedback: `ok ${hostile}` }) };
      implementerCalls++;
      if (req.messages.at(-1)!.role !== 'tool')
        return {
          text: 'Running it.',
          toolCalls: [
            {
              name: 'run_command',
              input: { command: 'node -e "process.stdout.write(Buffer.from([97,0,98,255,254]))"' },
            },
            { name: 'write_file', input: { path: 'notes.txt', content: `seen: ${hostile}` } },
          ],
        };
      return {
        text: `Output was odd.\n${JSON.stringify({ confidence: 0.9, summary: `saw ${hostile}` })}`,
      };
    });
    const s = await h.submit({
      objective: 'Look at a binary output',
      agents: ['impl-a'],
      validators: ['val-a'],
      workspace: 'binary',
    });
    expect(s.status).toBe(202);
    const events = await h.follow(s.id);
    expect(events.at(-1)!.data).toMatchObject({ status: 'completed' });
    // Two implementer calls (the tool round and the answer): nothing was made again.
    expect(implementerCalls).toBe(2);
    const toolResults = h.llm.requests.at(-2)!.messages.filter((m) => m.role === 'tool');
    expect(toolResults[0]!.content).toContain(`a${NUL}b\ufffd\ufffd`);
    // What the model wrote reached the file as UTF-8 (unpaired surrogates as U+FFFD).
    expect(fs.readFileSync(path.join(h.dir, 'workspaces', 'binary', 'notes.txt'), 'utf8')).toBe(
      `seen: ${hostile.toWellFormed()}`,
    );

    const swarm = await h.get(s.id);
    const [impl, val] = swarm.iterations[0]!.tasks as Array<{ output: Record<string, string> }>;
    expect(impl!.output.summary).toBe(`saw ${hostile}`);
    expect(val!.output.feedback).toBe(`ok ${hostile}`);
    // The event stream carries them too (JSON escapes survive the SSE frame).
    const succeeded = events.filter((e) => e.event === 'task.succeeded');
    const output = succeeded[0]!.data.output as { summary: string; text: string };
    expect(output.summary).toBe(`saw ${hostile}`);
    expect(output.text).toContain(JSON.stringify(`saw ${hostile}`).slice(1, -1));
    expect(events.find((e) => e.event === 'tool.called')!.data.summary).toContain(`a${NUL}b`);
  });
});
