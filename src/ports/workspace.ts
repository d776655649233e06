// A swarm's workspace: a directory agents read and write through tools, confined so nothing
// escapes it, plus what changed (the deliverable check) and command runs (command validators).

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  /** stdout and stderr interleaved, truncated to the limit with a marker. */
  output: string;
  durationMs: number;
  timedOut: boolean;
}

export interface RunCommandOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: Record<string, string>;
  maxOutputBytes?: number;
}

export interface FileEntry {
  path: string;
  type: 'file' | 'dir';
  size: number;
}

export interface Workspace {
  readonly root: string;
  readFile(relPath: string): Promise<string>;
  writeFile(relPath: string, content: string): Promise<void>;
  listFiles(relDir?: string): Promise<FileEntry[]>;
  /**
   * Runs a shell command line in the workspace, inside the sandbox (all of it killed on abort or
   * timeout). Throws NO_SANDBOX when commands are refused (no sandbox, and not opted out).
   */
  runCommand(commandLine: string, options: RunCommandOptions): Promise<CommandResult>;
  /** An opaque fingerprint of the current content, to compare later. */
  snapshot(): Promise<WorkspaceSnapshot>;
  /** Paths added, modified or deleted since `since`. */
  changesSince(since: WorkspaceSnapshot): Promise<string[]>;
}

export interface WorkspaceSnapshot {
  /** relPath -> content hash */
  files: Record<string, string>;
}

export class WorkspaceError extends Error {
  constructor(
    readonly code: 'ESCAPE' | 'NOT_FOUND' | 'TOO_LARGE' | 'NOT_ALLOWED' | 'NO_SANDBOX' | 'IO',
    message: string,
  ) {
    super(message);
    this.name = 'WorkspaceError';
  }
}
