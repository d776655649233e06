// Finds a backup (an id or `latest` in the target, or a file given by its path, with or without
// the manifest next to it) and reads it back: checksum against the manifest, then the decoded
// content (decrypted, gunzipped) as a stream that fails on any damage.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AppError } from '../domain/errors.js';
import type { BackupManifest, BackupType } from '../ports/backup.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Logger } from '../ports/logger.js';
import {
  BackupIntegrityError,
  createDecryptStream,
  encryptionInfo,
  FRAME_BYTES,
  keyId,
} from './backup-crypto.js';

export interface BackupReaderDeps {
  store: BlobStore;
  /** A blob store on a local directory (for backups given as a file path). */
  directory?: (dir: string) => BlobStore;
  encryptionKey?: Buffer | undefined;
  logger: Logger;
  onProgress?: (p: { phase: string; bytes: number }) => void;
}

/** A backup found by `resolve`: its manifest and where its file is. */
export interface BackupSource {
  manifest: BackupManifest;
  store: BlobStore;
  /** `target`: in the backup target; `file`: a path given on the command line. */
  origin: 'target' | 'file';
  /** False for a file without a manifest: its checksum cannot be checked, only that it decodes. */
  verifiable: boolean;
  /** Where it is, for messages: the file's path or `<target>/<key>`. */
  location: string;
}

/** `claude_flow_backup_YYYYMMDD_HHMMSS.sql.gz` (or `.enc`), as the guide and `cfn backup` name them. */
const DUMP_FILE = /^(.*)\.sql\.gz(\.enc)?$/;
const STAMP = /(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})/;

/** A ref is a file path when it names a directory or a dump file, not an id from `cfn backup list`. */
export function isFileRef(ref: string): boolean {
  return ref.includes('/') || ref.includes(path.sep) || DUMP_FILE.test(ref);
}

/** Counts bytes and hashes them on the way through. */
export function tap(onBytes?: (total: number) => void) {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _e, done) {
      hash.update(chunk);
      size += chunk.length;
      onBytes?.(size);
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ sha256: hash.digest('hex'), size }) };
}

export const sink = () =>
  new Writable({
    write(_c, _e, done) {
      done();
    },
  });

export async function readJson<T>(stream: Readable): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}

export function createBackupReader(deps: BackupReaderDeps) {
  const key = deps.encryptionKey;
  const progress = (phase: string, bytes: number) => deps.onProgress?.({ phase, bytes });

  async function manifests(): Promise<BackupManifest[]> {
    const keys = [
      ...(await deps.store.list('database')),
      ...(await deps.store.list('app-data')),
    ].filter((k) => k.endsWith('manifest.json'));
    const out: BackupManifest[] = [];
    for (const k of keys) {
      try {
        out.push(await readJson<BackupManifest>(await deps.store.get(k)));
      } catch (err) {
        deps.logger.warn({ err, key: k }, 'unreadable backup manifest skipped');
      }
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async function resolve(ref: string, type?: BackupType): Promise<BackupManifest> {
    const all = await manifests();
    const found =
      ref === 'latest'
        ? all.find((m) => m.type === (type ?? 'database'))
        : all.find((m) => m.id === ref);
    if (!found) {
      throw new AppError(
        'NOT_FOUND',
        ref === 'latest'
          ? `No ${type ?? 'database'} backup in ${deps.store.location}: create one with \`cfn backup create\`.`
          : `No backup ${ref} in ${deps.store.location}: \`cfn backup list\` shows the ids.`,
      );
    }
    return found;
  }

  /** A database backup given as a file: its manifest when one lies next to it, else one made up. */
  async function fromFile(file: string): Promise<BackupSource> {
    const full = path.resolve(file);
    const base = path.basename(full);
    const m = DUMP_FILE.exec(base);
    if (!m) {
      throw new AppError(
        'VALIDATION_FAILED',
        `${file} is not a database dump file: expected claude_flow_backup_YYYYMMDD_HHMMSS.sql.gz (or .sql.gz.enc).`,
      );
    }
    if (!deps.directory) {
      throw new AppError('VALIDATION_FAILED', 'Backups given as files cannot be read here.');
    }
    const store = deps.directory(path.dirname(full));
    if (!(await store.exists(base))) {
      throw new AppError('NOT_FOUND', `No such backup file: ${full}`);
    }
    const manifestKey = `${m[1]!.replace(/\.sql$/, '')}.manifest.json`;
    if (await store.exists(manifestKey)) {
      const manifest = await readJson<BackupManifest>(await store.get(manifestKey)).catch(
        (err: unknown) => {
          throw new BackupIntegrityError(
            `The manifest ${manifestKey} next to ${base} is not readable: ${(err as Error).message}`,
          );
        },
      );
      if (manifest.type !== 'database' || path.posix.basename(manifest.key) !== base) {
        throw new BackupIntegrityError(
          `The manifest ${manifestKey} next to ${base} describes ${manifest.key}, not this file: remove it or put the right one there.`,
        );
      }
      return {
        manifest: { ...manifest, key: base },
        store,
        origin: 'file',
        verifiable: true,
        location: full,
      };
    }
    const stamp = STAMP.exec(base);
    const createdAt = stamp
      ? `${stamp[1]}-${stamp[2]}-${stamp[3]}T${stamp[4]}:${stamp[5]}:${stamp[6]}.000Z`
      : new Date(0).toISOString();
    const encrypted = Boolean(m[2]);
    return {
      manifest: {
        formatVersion: 1,
        id: base,
        type: 'database',
        key: base,
        sha256: '',
        sizeBytes: -1,
        createdAt,
        completedAt: createdAt,
        durationMs: 0,
        // Without a manifest the key id is not known: the configured key is tried.
        encryption: encrypted
          ? key
            ? encryptionInfo(key)
            : { algorithm: 'aes-256-gcm-chunked', frameBytes: FRAME_BYTES, keyId: 'unknown' }
          : null,
      },
      store,
      origin: 'file',
      verifiable: false,
      location: full,
    };
  }

  const inTarget = (manifest: BackupManifest): BackupSource => ({
    manifest,
    store: deps.store,
    origin: 'target',
    verifiable: true,
    location: `${deps.store.location}/${manifest.key}`,
  });

  /** `latest`, an id from the target, or the path of a dump file. */
  async function source(ref: string, type?: BackupType): Promise<BackupSource> {
    return isFileRef(ref) ? fromFile(ref) : inTarget(await resolve(ref, type));
  }

  function requireKeyFor(m: BackupManifest): Buffer | undefined {
    if (!m.encryption) return undefined;
    if (!key) {
      throw new AppError(
        'VALIDATION_FAILED',
        `Backup ${m.id} is encrypted (key id ${m.encryption.keyId}): set BACKUP_ENCRYPTION_KEY to the key it was made with.`,
      );
    }
    if (keyId(key) !== m.encryption.keyId) {
      throw new BackupIntegrityError(
        `Backup ${m.id} was encrypted with key id ${m.encryption.keyId}, but BACKUP_ENCRYPTION_KEY has id ${keyId(key)}: set the key it was made with.`,
      );
    }
    return key;
  }

  /** Pass 1: the stored bytes are exactly the ones the manifest describes. */
  async function checkChecksum(s: BackupSource): Promise<void> {
    const m = s.manifest;
    const t = tap((n) => progress('checking checksum', n));
    await pipeline(await s.store.get(m.key), t.stream, sink());
    const { sha256, size } = t.result();
    if (size !== m.sizeBytes || sha256 !== m.sha256) {
      throw new BackupIntegrityError(
        `Backup ${m.id} is damaged: ${m.key} has ${size} bytes with sha256 ${sha256.slice(0, 12)}…, ` +
          `the manifest says ${m.sizeBytes} bytes with ${m.sha256.slice(0, 12)}…. Use another backup (\`cfn backup list\`).`,
      );
    }
  }

  /** The decoded content (decrypted, gunzipped) of a backup, as a stream that fails on damage. */
  async function open(s: BackupSource): Promise<Readable> {
    const m = s.manifest;
    const k = requireKeyFor(m);
    const input = await s.store.get(m.key);
    const out = new PassThrough();
    const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [input];
    if (k) stages.push(createDecryptStream(k));
    stages.push(createGunzip());
    const done = pipeline([...(stages as [Readable, ...Transform[]]), out]);
    done.catch((err: unknown) => {
      const e =
        err instanceof AppError
          ? err
          : new BackupIntegrityError(`Backup ${m.id} cannot be decoded: ${(err as Error).message}`);
      out.destroy(e);
    });
    return out;
  }

  /** Pass 2: the whole backup decodes (every frame authenticates, gzip ends cleanly). */
  async function checkDecodes(s: BackupSource, into: Writable = sink()): Promise<void> {
    const t = tap((n) => progress('checking content', n));
    await pipeline(await open(s), t.stream, into);
  }

  return {
    manifests,
    resolve,
    source,
    inTarget,
    requireKeyFor,
    checkChecksum,
    checkDecodes,
    open,
  };
}

export type BackupReader = ReturnType<typeof createBackupReader>;
