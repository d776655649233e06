// PGlite keeps its files in one directory that only one process may open: a pid lock file makes a
// second process fail with a clear message instead of corrupting the data.
import fs from 'node:fs';
import { AppError } from '../../domain/errors.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(lockPath: string, dataDir: string): DataDirLock {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (fs.readFileSync(lockPath, 'utf8').trim() === String(process.pid))
              fs.unlinkSync(lockPath);
          } catch {
            // already gone: nothing to release
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new AppError(
          'DATA_DIR_LOCKED',
          `The embedded database in ${dataDir} is in use by process ${pid}. Stop that process, ` +
            'or (for `cfn keys`, `cfn backup create|list`, `cfn restore` and `cfn maintenance`) give an ' +
            'admin key (--key or CFN_API_KEY) and the command runs through that service, or set ' +
            'DATABASE_URL to use PostgreSQL.',
          { details: { pid, dataDir } },
        );
      }
      // A stale lock from a process that died: take it over.
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new AppError('DATA_DIR_LOCKED', `Could not lock the embedded database in ${dataDir}`);
}
