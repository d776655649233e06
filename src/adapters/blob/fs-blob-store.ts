// BlobStore on a local directory: writes go to a temporary file renamed into place, so a reader
// never sees a half-written backup.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../domain/errors.js';
import type { BlobStore } from '../../ports/blob-store.js';

export class BlobNotFoundError extends AppError {
  constructor(
    readonly location: string,
    readonly key: string,
  ) {
    super('NOT_FOUND', `Backup object ${key} is missing from ${location}`);
    this.name = 'BlobNotFoundError';
  }
}

function safeKey(key: string): string {
  const normal = path.posix.normalize(key);
  if (normal.startsWith('..') || path.posix.isAbsolute(normal)) {
    throw new AppError('VALIDATION_FAILED', `Invalid backup object key ${key}`);
  }
  return normal;
}

export function createFsBlobStore(root: string): BlobStore {
  const full = (key: string) => path.join(root, safeKey(key));
  return {
    location: root,
    async put(key, body) {
      const file = full(key);
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.partial-${process.pid}`;
      try {
        await pipeline(body, fs.createWriteStream(tmp, { flags: 'wx' }));
        const { size } = await fs.promises.stat(tmp);
        await fs.promises.rename(tmp, file);
        return { size };
      } catch (err) {
        await fs.promises.rm(tmp, { force: true });
        throw err;
      }
    },
    async get(key) {
      const file = full(key);
      try {
        await fs.promises.access(file, fs.constants.R_OK);
      } catch {
        throw new BlobNotFoundError(root, key);
      }
      return fs.createReadStream(file) as Readable;
    },
    async exists(key) {
      return fs.promises.access(full(key)).then(
        () => true,
        () => false,
      );
    },
    async list(prefix) {
      const dir = full(prefix);
      let names: string[];
      try {
        names = await fs.promises.readdir(dir, { recursive: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      const keys: string[] = [];
      for (const name of names) {
        const stat = await fs.promises.stat(path.join(dir, name));
        if (stat.isFile() && !name.includes('.partial-')) {
          keys.push(path.posix.join(prefix, name.split(path.sep).join('/')));
        }
      }
      return keys;
    },
    async delete(key) {
      const file = full(key);
      await fs.promises.rm(file, { force: true });
      // Remove the directory of an app-data backup once it is empty.
      const dir = path.dirname(file);
      if (dir !== root) await fs.promises.rmdir(dir).catch(() => {});
    },
  };
}
