// The Workspace port on a local directory: every path is confined to the root (symlinks included),
// writes are atomic, and commands run in the CommandSandbox it is given (none given: refused).

import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, type Dirent } from 'node:fs';
import {
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import type { CommandSandbox } from '../../ports/sandbox.js';
import {
  WorkspaceError,
  type CommandResult,
  type FileEntry,
  type RunCommandOptions,
  type Workspace,
  type WorkspaceSnapshot,
} from '../../ports/workspace.js';
import { ensureGiven, giveCreatedDirs } from './workspace-owner.js';

export interface FsWorkspaceOptions {
  /** Largest file readFile returns and writeFile accepts (default 1 MiB). */
  maxFileBytes?: number;
  /** When set, runCommand accepts only these first words and no shell metacharacters. */
  commandAllowList?: readonly string[];
  /** Where commands run. Unset: every command is refused (NO_SANDBOX). */
  sandbox?: CommandSandbox;
  /** Whether this swarm's commands may reach the network (default false). */
  network?: boolean;
  /** Most entries listFiles returns (default 5,000). */
  maxListEntries?: number;
  /** Most files snapshot() hashes (default 50,000). */
  maxSnapshotFiles?: number;
}

const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
const DEFAULT_MAX_LIST_ENTRIES = 5_000;
const DEFAULT_MAX_SNAPSHOT_FILES = 50_000;
const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
const MAX_SYMLINK_HOPS = 40;
const SKIPPED_DIRS = new Set(['.git', 'node_modules']);
const SHELL_METACHARACTERS = /[;&|`$><\n\r]/;

export async function createFsWorkspace(
  root: string,
  options: FsWorkspaceOptions = {},
): Promise<Workspace> {
  const wanted = path.resolve(root);
  // Submission stored the real path: a link on it now was swapped in since, and would let the
  // sandbox bind (and the tools reach) whatever it points to. Checked before mkdir creates anything.
  const physical = await physicalPath(wanted);
  if (physical !== wanted) throw linkedRoot(wanted, physical);
  await mkdir(wanted, { recursive: true });
  const realRoot = await realpath(wanted);
  if (realRoot !== wanted) throw linkedRoot(wanted, realRoot);
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const maxListEntries = options.maxListEntries ?? DEFAULT_MAX_LIST_ENTRIES;
  const maxSnapshotFiles = options.maxSnapshotFiles ?? DEFAULT_MAX_SNAPSHOT_FILES;
  const allowList = options.commandAllowList;
  const sandbox = options.sandbox;
  const owner = sandbox?.owner;
  // Commands run as another user than the service (root dropped to an unprivileged uid): the
  // workspace must be theirs to write. Given once (then kept up by writeFile).
  if (owner) await ensureGiven(realRoot, owner);
  const isInside = (p: string): boolean =>
    p === realRoot || p.startsWith(realRoot === '/' ? '/' : realRoot + path.sep);

  /** The confined physical path for relPath, plus its normalised relative form. */
  async function resolve(relPath: string): Promise<{ abs: string; rel: string }> {
    const rel = normaliseRelPath(relPath);
    let abs: string;
    try {
      abs = await physicalPath(path.join(realRoot, rel));
    } catch (error) {
      throw toWorkspaceError(error, relPath);
    }
    if (!isInside(abs)) {
      throw new WorkspaceError(
        'ESCAPE',
        `"${printable(relPath)}" resolves outside the workspace (through a symbolic link)`,
      );
    }
    return { abs, rel };
  }

  async function readFileInside(relPath: string): Promise<string> {
    const { abs } = await resolve(relPath);
    let handle;
    try {
      // O_NOFOLLOW: the path was checked symlink-free; refuse one swapped in since.
      // O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore it).
      handle = await open(
        abs,
        fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK,
      );
    } catch (error) {
      throw toWorkspaceError(error, relPath);
    }
    try {
      const info = await handle.stat();
      if (info.isDirectory())
        throw new WorkspaceError('IO', `"${printable(relPath)}" is a directory`);
      if (!info.isFile())
        throw new WorkspaceError('IO', `"${printable(relPath)}" is not a regular file`);
      if (info.size > maxFileBytes) {
        throw new WorkspaceError(
          'TOO_LARGE',
          `"${printable(relPath)}" is ${info.size} bytes; the limit is ${maxFileBytes}`,
        );
      }
      // Read at most one byte past the limit, in case the file grew after stat.
      const buffer = Buffer.alloc(Math.min(info.size, maxFileBytes) + 1);
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length === buffer.length) break;
      }
      if (length > maxFileBytes) {
        throw new WorkspaceError(
          'TOO_LARGE',
          `"${printable(relPath)}" exceeds ${maxFileBytes} bytes`,
        );
      }
      return buffer.subarray(0, length).toString('utf8');
    } catch (error) {
      throw toWorkspaceError(error, relPath);
    } finally {
      await handle.close();
    }
  }

  async function writeFileInside(relPath: string, content: string): Promise<void> {
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > maxFileBytes) {
      throw new WorkspaceError(
        'TOO_LARGE',
        `content is ${bytes} bytes; the limit is ${maxFileBytes}`,
      );
    }
    const { abs } = await resolve(relPath);
    if (abs === realRoot)
      throw new WorkspaceError('IO', 'cannot write to the workspace root itself');
    const dir = path.dirname(abs);
    const temp = path.join(dir, `.${path.basename(abs)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const firstCreated = await mkdir(dir, { recursive: true });
      // The parent was checked before mkdir; check again that what now exists is still ours.
      if (!isInside(await realpath(dir))) {
        throw new WorkspaceError(
          'ESCAPE',
          `"${printable(relPath)}" resolves outside the workspace`,
        );
      }
      const mode = await existingMode(abs);
      await writeFile(temp, content, { flag: 'wx', mode: mode ?? 0o644 });
      if (owner) {
        await lchown(temp, owner.uid, owner.gid);
        if (firstCreated !== undefined) await giveCreatedDirs(firstCreated, dir, owner);
      }
      await rename(temp, abs);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw toWorkspaceError(error, relPath);
    }
  }

  async function listFilesInside(relDir = '.'): Promise<FileEntry[]> {
    const { abs, rel } = await resolve(relDir);
    let info;
    try {
      info = await stat(abs);
    } catch (error) {
      throw toWorkspaceError(error, relDir);
    }
    if (!info.isDirectory())
      throw new WorkspaceError('IO', `"${printable(relDir)}" is not a directory`);
    const entries: FileEntry[] = [];
    const walk = async (dirAbs: string, dirRel: string): Promise<void> => {
      for (const dirent of await readSortedDir(dirAbs)) {
        if (entries.length >= maxListEntries) return;
        if (SKIPPED_DIRS.has(dirent.name)) continue;
        const childAbs = path.join(dirAbs, dirent.name);
        const childRel = dirRel === '' ? dirent.name : `${dirRel}/${dirent.name}`;
        if (dirent.isDirectory()) {
          entries.push({ path: childRel, type: 'dir', size: 0 });
          await walk(childAbs, childRel);
        } else if (dirent.isFile()) {
          entries.push({ path: childRel, type: 'file', size: (await lstat(childAbs)).size });
        } else if (dirent.isSymbolicLink()) {
          // Shown only when it points inside; never descended, so a link cannot loop the walk.
          const target = await realpath(childAbs).catch(() => undefined);
          if (target === undefined || !isInside(target)) continue;
          const targetInfo = await stat(target);
          entries.push(
            targetInfo.isDirectory()
              ? { path: childRel, type: 'dir', size: 0 }
              : { path: childRel, type: 'file', size: targetInfo.size },
          );
        }
      }
    };
    try {
      await walk(abs, rel);
    } catch (error) {
      throw toWorkspaceError(error, relDir);
    }
    return entries.sort((a, b) => compareStrings(a.path, b.path));
  }

  async function snapshot(): Promise<WorkspaceSnapshot> {
    const files: Record<string, string> = {};
    let count = 0;
    const walk = async (dirAbs: string, dirRel: string): Promise<void> => {
      for (const dirent of await readSortedDir(dirAbs)) {
        if (count >= maxSnapshotFiles) return;
        if (SKIPPED_DIRS.has(dirent.name)) continue;
        const childAbs = path.join(dirAbs, dirent.name);
        const childRel = dirRel === '' ? dirent.name : `${dirRel}/${dirent.name}`;
        if (dirent.isDirectory()) {
          await walk(childAbs, childRel);
        } else if (dirent.isFile()) {
          const hash = await hashFile(childAbs).catch((error: unknown) => {
            if (errnoCode(error) === 'ENOENT') return undefined; // deleted while we walked
            throw toWorkspaceError(error, childRel);
          });
          if (hash === undefined) continue;
          files[childRel] = hash;
          count += 1;
        } else if (dirent.isSymbolicLink()) {
          // A link is content too, but its target is never followed (it may lie outside).
          files[childRel] = sha256(`symlink:${await readlink(childAbs)}`);
          count += 1;
        }
        // FIFOs, sockets and devices are skipped: reading them could block or never end.
      }
    };
    try {
      await walk(realRoot, '');
    } catch (error) {
      throw toWorkspaceError(error, '.');
    }
    return { files };
  }

  async function changesSince(since: WorkspaceSnapshot): Promise<string[]> {
    const now = (await snapshot()).files;
    const changed = new Set<string>();
    for (const [file, hash] of Object.entries(now))
      if (since.files[file] !== hash) changed.add(file);
    for (const file of Object.keys(since.files)) if (!(file in now)) changed.add(file);
    return [...changed].sort(compareStrings);
  }

  async function runCommand(
    commandLine: string,
    runOptions: RunCommandOptions,
  ): Promise<CommandResult> {
    if (allowList !== undefined) checkCommandAllowed(commandLine, allowList);
    if (!sandbox) {
      throw new WorkspaceError('NO_SANDBOX', 'commands are disabled: no sandbox is configured');
    }
    return sandbox.run(commandLine, {
      workspace: realRoot,
      env: runOptions.env ?? {},
      timeoutMs: runOptions.timeoutMs,
      signal: runOptions.signal,
      maxOutputBytes: runOptions.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      network: options.network ?? false,
    });
  }

  return {
    root: realRoot,
    readFile: readFileInside,
    writeFile: writeFileInside,
    listFiles: listFilesInside,
    runCommand,
    snapshot,
    changesSince,
  };
}

/**
 * Throws NOT_ALLOWED unless the first word of commandLine is in allowList and the line holds no
 * shell metacharacters (so the allowed program is the only one that runs).
 */
export function checkCommandAllowed(commandLine: string, allowList: readonly string[]): void {
  if (SHELL_METACHARACTERS.test(commandLine)) {
    throw new WorkspaceError(
      'NOT_ALLOWED',
      'shell metacharacters ; & | ` $ > < and newlines are not allowed in this command',
    );
  }
  const firstWord = commandLine.trim().split(/\s+/)[0] ?? '';
  if (firstWord === '' || !allowList.includes(firstWord)) {
    throw new WorkspaceError(
      'NOT_ALLOWED',
      `command "${printable(firstWord)}" is not allowed; allowed: ${allowList.join(', ') || '(none)'}`,
    );
  }
}

/** Lexically normalises a relative path; throws ESCAPE for absolute paths, NUL bytes and `..` above the root. */
function normaliseRelPath(relPath: string): string {
  if (relPath.includes('\0')) throw new WorkspaceError('ESCAPE', 'path contains a NUL byte');
  if (path.isAbsolute(relPath)) {
    throw new WorkspaceError(
      'ESCAPE',
      `"${printable(relPath)}" is absolute; paths are relative to the workspace root`,
    );
  }
  const stack: string[] = [];
  for (const segment of relPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (stack.pop() === undefined) {
        throw new WorkspaceError('ESCAPE', `"${printable(relPath)}" leaves the workspace`);
      }
      continue;
    }
    stack.push(segment);
  }
  return stack.join('/');
}

/**
 * Where the kernel would land for absPath: follows every symbolic link component by component,
 * dangling ones included, and keeps the missing tail as is (it would be created as real dirs).
 */
async function physicalPath(absPath: string): Promise<string> {
  const pending = absPath.split('/').filter((s) => s !== '');
  let current = '/';
  let hops = 0;
  let exists = true;
  while (pending.length > 0) {
    const segment = pending.shift() as string;
    if (segment === '.') continue;
    if (segment === '..') {
      current = path.dirname(current);
      continue;
    }
    const next = path.join(current, segment);
    if (!exists) {
      current = next;
      continue;
    }
    let info;
    try {
      info = await lstat(next);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT' && errnoCode(error) !== 'ENOTDIR') throw error;
      exists = false;
      current = next;
      continue;
    }
    if (info.isSymbolicLink()) {
      hops += 1;
      if (hops > MAX_SYMLINK_HOPS)
        throw new WorkspaceError('ESCAPE', 'too many levels of symbolic links');
      const target = await readlink(next);
      pending.unshift(...target.split('/').filter((s) => s !== ''));
      if (path.isAbsolute(target)) current = '/';
      continue;
    }
    current = next;
  }
  return current;
}

async function readSortedDir(dir: string): Promise<Dirent[]> {
  const dirents = await readdir(dir, { withFileTypes: true });
  return dirents.sort((a, b) => compareStrings(a.name, b.name));
}

function linkedRoot(wanted: string, real: string): WorkspaceError {
  return new WorkspaceError(
    'ESCAPE',
    `the workspace ${printable(wanted)} is, or is under, a symbolic link (to ${printable(real)}); refused`,
  );
}

async function existingMode(abs: string): Promise<number | undefined> {
  try {
    const info = await lstat(abs);
    if (info.isDirectory()) throw new WorkspaceError('IO', 'a directory exists at this path');
    return info.mode & 0o777;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The content hash of a regular file. Commands may swap entries while the walk runs: a link is
 * never followed (O_NOFOLLOW) and a FIFO never waited on (O_NONBLOCK, then not a regular file).
 */
async function hashFile(abs: string): Promise<string | undefined> {
  const handle = await open(
    abs,
    fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK,
  ).catch((error: unknown) => {
    if (errnoCode(error) === 'ELOOP') return undefined; // became a link since readdir
    throw error;
  });
  if (!handle) return undefined;
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk);
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function errnoCode(error: unknown): string | undefined {
  if (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string'
  ) {
    return error.code;
  }
  return undefined;
}

function toWorkspaceError(error: unknown, relPath: string): WorkspaceError {
  if (error instanceof WorkspaceError) return error;
  const name = printable(relPath);
  switch (errnoCode(error)) {
    case 'ENOENT':
      return new WorkspaceError('NOT_FOUND', `"${name}" does not exist in the workspace`);
    case 'ENOTDIR':
      return new WorkspaceError('IO', `a parent of "${name}" is a file, not a directory`);
    case 'EISDIR':
      return new WorkspaceError('IO', `"${name}" is a directory`);
    case 'ELOOP':
      // O_NOFOLLOW met a symbolic link that appeared after the path was checked.
      return new WorkspaceError(
        'ESCAPE',
        `"${name}" changed into a symbolic link while being opened`,
      );
    default:
      return new WorkspaceError(
        'IO',
        `"${name}": ${error instanceof Error ? error.message : String(error)}`,
      );
  }
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

/** Makes control characters visible in messages (paths come from models). */
function printable(text: string): string {
  return text.replace(
    CONTROL_CHARACTERS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
