// Chooses the sandbox agent commands and command validators run in (CFN_SANDBOX): bubblewrap when
// its start-up self-test passes, unconfined only when the operator opted out, otherwise none
// (commands refused, saying why). Also what /health reports about it.
import { constants as fsConstants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type Config } from '../config/load-config.js';
import { createBwrapSandbox, selfTestSandbox } from '../adapters/sandbox/bwrap-sandbox.js';
import {
  createRefusingSandbox,
  createUnconfinedSandbox,
} from '../adapters/sandbox/unconfined-sandbox.js';
import type { Logger } from '../ports/logger.js';
import type { CommandSandbox, SandboxStatus } from '../ports/sandbox.js';

export interface SandboxRuntime {
  sandbox: CommandSandbox;
  /** Undefined where no command ever runs (an API-only replica): /health then says nothing. */
  status: SandboxStatus | undefined;
}

/** What an operator can do when the sandbox does not work. */
const REMEDY =
  'install bubblewrap (Debian package bubblewrap) and check that it runs, or set CFN_SANDBOX=off to run commands unconfined';

/** A replica that runs no jobs runs no commands: it gets a sandbox that refuses them, untested. */
export function sandboxForApiReplica(): SandboxRuntime {
  return {
    sandbox: createRefusingSandbox('this replica runs no commands (cfn serve)'),
    status: undefined,
  };
}

export async function openSandbox(config: Config, logger: Logger): Promise<SandboxRuntime> {
  const settings = config.engine.sandbox;
  if (settings.mode === 'off') {
    const env = config.engine.unconfinedEnv;
    if (env.HOME) await mkdir(env.HOME, { recursive: true });
    logger.warn(
      'CFN_SANDBOX=off: agent commands and command validators run unconfined, as the service user, ' +
        'with access to everything it can read and write (its data, other workspaces, the network)',
    );
    return {
      sandbox: createUnconfinedSandbox(env),
      status: { status: 'disabled', detail: 'CFN_SANDBOX=off: commands run unconfined' },
    };
  }
  try {
    const bwrap = await findExecutable(settings.bwrap, config.engine.cliEnv.PATH ?? '');
    const supportDir = path.join(config.dataDir, 'sandbox');
    const sandbox = await createBwrapSandbox({
      bwrap,
      supportDir,
      dropTo: process.getuid?.() === 0 ? { uid: settings.uid, gid: settings.gid } : undefined,
    });
    await selfTestSandbox(sandbox, supportDir);
    logger.info({ bwrap, owner: sandbox.owner }, 'command sandbox ready (bubblewrap)');
    return { sandbox, status: { status: 'available', detail: bwrap } };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (settings.mode === 'bwrap') {
      throw new ConfigError('CFN_SANDBOX', `is bwrap but the sandbox does not work: ${reason}`);
    }
    const refusal = `no working sandbox (${reason}); ${REMEDY}`;
    logger.warn({ reason }, `agent commands and command validators are refused: ${refusal}`);
    return {
      sandbox: createRefusingSandbox(`commands are refused: ${refusal}`),
      status: { status: 'unavailable', detail: refusal },
    };
  }
}

/** `name` as given when it holds a slash, else the first executable of that name on `searchPath`. */
async function findExecutable(name: string, searchPath: string): Promise<string> {
  const candidates = name.includes('/')
    ? [path.resolve(name)]
    : searchPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here; try the next
    }
  }
  throw new Error(
    name.includes('/')
      ? `${name} (CFN_SANDBOX_BWRAP) is not an executable file`
      : `${name} (CFN_SANDBOX_BWRAP) was not found on PATH`,
  );
}
