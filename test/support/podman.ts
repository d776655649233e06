// podman for the container tests: every command runs with the repository's containers.conf
// (deploy/podman/containers.conf: runc, cgroupfs, netavark, ulimits this host allows), and the
// images are built once per checkout state by test/containers/images.sh, under a lock, so test
// files that need them at the same time build them once.
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CONTAINERS_CONF = path.join(ROOT, 'deploy/podman/containers.conf');
/** The app image the tests build from the Dockerfile (on the Node 24 stand-in base). */
export const APP_IMAGE = 'localhost/claude-flow-novice:ci';

export const podmanEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  CONTAINERS_CONF,
});

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws for an exit code (the caller looks). */
export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        cwd: opts.cwd ?? ROOT,
        env: opts.env ?? podmanEnv(),
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number')
          return reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
      },
    );
  });
}

/** `podman …`, which must succeed: its stdout, trimmed. */
export async function podman(args: string[], timeoutMs?: number): Promise<string> {
  const r = await run('podman', args, { ...(timeoutMs ? { timeoutMs } : {}) });
  if (r.code !== 0)
    throw new Error(`podman ${args.join(' ')} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r.stdout.trim();
}

/**
 * Builds what `what` names with test/containers/images.sh (the output streamed to stderr, a build
 * takes minutes): `app` the base and the app image, `stand-ins` the images compose's official
 * ones stand for.
 */
export function buildImages(what: 'app' | 'stand-ins'): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(ROOT, 'test/containers/images.sh'), what], {
      cwd: ROOT,
      env: podmanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const keep = (d: Buffer) => {
      tail = (tail + d.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', (d: Buffer) => {
      keep(d);
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`images.sh ${what} exited ${code}\n${tail}`)),
    );
  });
}

/** A container's state as podman inspects it. */
export async function containerState(name: string): Promise<{
  Status: string;
  ExitCode: number;
  Health?: { Status: string };
}> {
  return JSON.parse(await podman(['inspect', '--format', '{{json .State}}', name])) as {
    Status: string;
    ExitCode: number;
    Health?: { Status: string };
  };
}

/** Removes containers, pods, volumes and networks, whatever is left of them (cleanup). */
export async function removeQuietly(
  kind: 'container' | 'volume' | 'network' | 'pod' | 'secret',
  names: string[],
) {
  // One at a time: podman removes none of the names when one of them does not exist.
  for (const name of names)
    await run('podman', [kind, 'rm', ...(kind === 'secret' ? [] : ['-f']), name], {
      timeoutMs: 60_000,
    }).catch(() => undefined);
}
