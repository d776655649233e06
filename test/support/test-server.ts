// Starts the real service in-process (the same startServer that `cfn start` runs) on an
// ephemeral loopback port, with its logs captured.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import type { Role } from '../../src/main/runtime.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { captureLogs, type LogCapture } from './log-capture.js';

export interface TestServer extends RunningServer {
  logs: LogCapture;
  announced: string[];
  dataDir: string;
  /** The admin key printed at bootstrap. */
  adminKey: string;
  fetch(pathname: string, init?: RequestInit & { key?: string }): Promise<Response>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Reuse a data directory (a restart); it is then left in place by stop(). */
  dataDir?: string;
  /** Which part of the service to run (`cfn start`: all; `cfn serve`: api; `cfn worker`: worker). */
  role?: Role;
}

export async function startTestServer(
  env: Record<string, string> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-test-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    CFN_DATA_DIR: dataDir,
    ...env,
  });
  const logs = captureLogs();
  const announced: string[] = [];
  const running = await startServer(config, {
    logDestination: logs.stream,
    announce: (t) => announced.push(t),
    ...(options.role ? { role: options.role } : {}),
  });
  const adminKey =
    env.CFN_BOOTSTRAP_ADMIN_KEY ?? announced.join('').match(/cfn_[A-Za-z0-9_-]+/)?.[0] ?? '';
  return {
    ...running,
    logs,
    announced,
    dataDir,
    adminKey,
    fetch(pathname, init = {}) {
      const { key, headers, ...rest } = init;
      return fetch(running.url + pathname, {
        ...rest,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(headers as Record<string, string>),
        },
      });
    },
    async stop() {
      await running.shutdown('test');
      if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
