// Where backup files live: a directory or an S3-compatible bucket. Objects are streamed both ways,
// never held whole in memory.
import type { Readable } from 'node:stream';

export interface BlobStore {
  /** Human-readable location, e.g. `/var/backups/cfn` or `s3://bucket/prefix`. */
  readonly location: string;
  /** Writes `body` under `key` (complete or not at all); resolves with the bytes written. */
  put(key: string, body: Readable): Promise<{ size: number }>;
  /** Opens `key` for reading; fails with BlobNotFoundError when it does not exist. */
  get(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Keys under `prefix` (recursive), in no particular order. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}
