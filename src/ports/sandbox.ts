// The isolation boundary agent commands and command validators run in: a command line goes in,
// its merged output and exit status come out, and nothing outside the workspace is reachable.
import type { CommandResult } from './workspace.js';

export interface SandboxRunOptions {
  /** Real (symlink-free) absolute path of the workspace: the working directory, and the only writable host directory. */
  workspace: string;
  /** Variables the command needs on top of the sandbox's own PATH, HOME, LANG and TMPDIR. */
  env: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Output kept: the last this many bytes of stdout and stderr interleaved. */
  maxOutputBytes: number;
  /** Whether the command may reach the network (the host's); otherwise only its own loopback. */
  network: boolean;
}

/** Who workspace files must belong to so that sandboxed commands can change them. */
export interface SandboxOwner {
  uid: number;
  gid: number;
}

export interface CommandSandbox {
  /**
   * Set when commands run as another host user than the service (a service running as root drops
   * to an unprivileged uid): workspace files must be given to it. Undefined: leave ownership alone.
   */
  readonly owner: SandboxOwner | undefined;
  /**
   * Runs `commandLine` with `/bin/sh -c` in the workspace; never rejects for the command's own
   * failures (those are in the result). Throws WorkspaceError `NO_SANDBOX` when commands are refused.
   */
  run(commandLine: string, options: SandboxRunOptions): Promise<CommandResult>;
}

/** What `/health` says about the sandbox. */
export interface SandboxStatus {
  /** available: commands run sandboxed; unavailable: commands are refused; disabled: CFN_SANDBOX=off. */
  status: 'available' | 'unavailable' | 'disabled';
  /** bwrap's path when available; why not when unavailable. */
  detail: string;
}
