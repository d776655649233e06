// Where the embedded service listens, for the CLI on the same data directory: the service holds
// the PGlite database, so `cfn` commands that need it go through this service's API, found here
// (`CFN_DATA_DIR/service.json`: pid and URL) instead of being guessed from PORT.
import fs from 'node:fs';
import path from 'node:path';

export const SERVICE_FILE = 'service.json';

const fileIn = (dataDir: string) => path.join(dataDir, SERVICE_FILE);

export function writeServiceFile(dataDir: string, url: string): void {
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(fileIn(dataDir), JSON.stringify({ pid: process.pid, url }) + '\n', {
    mode: 0o600,
  });
}

export function removeServiceFile(dataDir: string): void {
  try {
    const r = JSON.parse(fs.readFileSync(fileIn(dataDir), 'utf8')) as { pid?: number };
    if (r.pid === process.pid) fs.rmSync(fileIn(dataDir), { force: true });
  } catch {
    // absent or unreadable: nothing to remove
  }
}

/** The URL of the embedded service running on `dataDir`, when its process is alive. */
export function readServiceFile(dataDir: string): string | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(fileIn(dataDir), 'utf8')) as {
      pid?: number;
      url?: string;
    };
    if (typeof r.pid !== 'number' || typeof r.url !== 'string') return undefined;
    process.kill(r.pid, 0); // throws when that process is gone
    return r.url;
  } catch {
    return undefined;
  }
}
