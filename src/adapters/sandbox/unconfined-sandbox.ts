// The two sandboxes that are not a boundary: `CFN_SANDBOX=off` (the operator opted out, commands
// run as the service's user as before) and the one used when no sandbox works (commands refused).
import type { CommandSandbox } from '../../ports/sandbox.js';
import { WorkspaceError } from '../../ports/workspace.js';
import { runProcess, shellArgv } from './process-runner.js';

/** Runs commands with `/bin/sh -c` in the workspace, unconfined, from `baseEnv` (never the service's own environment). */
export function createUnconfinedSandbox(baseEnv: Readonly<Record<string, string>>): CommandSandbox {
  return {
    owner: undefined,
    run(commandLine, options) {
      return runProcess({
        argv: shellArgv(commandLine),
        cwd: options.workspace,
        env: { LANG: 'C.UTF-8', ...baseEnv, ...options.env },
        timeoutMs: options.timeoutMs,
        signal: options.signal,
        maxOutputBytes: options.maxOutputBytes,
        stderrLabel: 'shell',
      });
    },
  };
}

/** Refuses every command with `reason` (what is wrong and what the operator can do). */
export function createRefusingSandbox(reason: string): CommandSandbox {
  return {
    owner: undefined,
    run() {
      return Promise.reject(new WorkspaceError('NO_SANDBOX', reason));
    },
  };
}
