// Streamed AES-256-GCM for backups in authenticated frames: each frame carries its own IV and tag,
// its index and a last-frame flag are authenticated too, so a flipped byte, reordered frames or a
// truncated file are all detected, and no frame's plaintext is released before its tag checks.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AppError } from '../domain/errors.js';
import type { EncryptionInfo } from '../ports/backup.js';

const MAGIC = Buffer.from('CFNENC01', 'ascii');
const HEADER_BYTES = MAGIC.length + 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FRAME_HEAD = 1 + 4 + IV_BYTES;
export const FRAME_BYTES = 64 * 1024;

export class BackupIntegrityError extends AppError {
  constructor(message: string) {
    super('VALIDATION_FAILED', message);
    this.name = 'BackupIntegrityError';
  }
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export function encryptionInfo(key: Buffer): EncryptionInfo {
  return { algorithm: 'aes-256-gcm-chunked', frameBytes: FRAME_BYTES, keyId: keyId(key) };
}

function aad(header: Buffer, index: number, final: boolean): Buffer {
  const b = Buffer.alloc(header.length + 9);
  header.copy(b);
  b.writeBigUInt64BE(BigInt(index), header.length);
  b[header.length + 8] = final ? 1 : 0;
  return b;
}

export function createEncryptStream(key: Buffer, frameBytes = FRAME_BYTES): Transform {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header);
  header.writeUInt32BE(frameBytes, MAGIC.length);
  let pending = Buffer.alloc(0);
  let index = 0;
  let headerSent = false;
  const frame = (plain: Buffer, final: boolean): Buffer => {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(header, index++, final));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const head = Buffer.alloc(FRAME_HEAD);
    head[0] = final ? 1 : 0;
    head.writeUInt32BE(body.length, 1);
    iv.copy(head, 5);
    return Buffer.concat([head, body, cipher.getAuthTag()]);
  };
  const start = (push: (b: Buffer) => void) => {
    if (!headerSent) {
      headerSent = true;
      push(header);
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      start((b) => this.push(b));
      pending = Buffer.concat([pending, chunk]);
      // Keep at least one byte back so the last frame is always the one flagged final.
      while (pending.length > frameBytes) {
        this.push(frame(pending.subarray(0, frameBytes), false));
        pending = pending.subarray(frameBytes);
      }
      done();
    },
    flush(done: TransformCallback) {
      start((b) => this.push(b));
      this.push(frame(pending, true));
      done();
    },
  });
}

export function createDecryptStream(key: Buffer): Transform {
  let buf = Buffer.alloc(0);
  let header: Buffer | undefined;
  let index = 0;
  let finished = false;
  const wrongKeyHint =
    'the backup is damaged or BACKUP_ENCRYPTION_KEY is not the key it was made with';
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      buf = Buffer.concat([buf, chunk]);
      try {
        if (!header) {
          if (buf.length < HEADER_BYTES) return done();
          header = Buffer.from(buf.subarray(0, HEADER_BYTES));
          if (!header.subarray(0, MAGIC.length).equals(MAGIC)) {
            throw new BackupIntegrityError('Not an encrypted backup (bad header): ' + wrongKeyHint);
          }
          buf = buf.subarray(HEADER_BYTES);
        }
        while (buf.length >= FRAME_HEAD) {
          if (finished) throw new BackupIntegrityError('Unexpected data after the last frame');
          // The flag is authenticated as a boolean: any other byte is damage, not "not final".
          const flag = buf[0];
          if (flag !== 0 && flag !== 1)
            throw new BackupIntegrityError('Corrupt frame flag: ' + wrongKeyHint);
          const final = flag === 1;
          const len = buf.readUInt32BE(1);
          if (len > header.readUInt32BE(MAGIC.length)) {
            throw new BackupIntegrityError('Corrupt frame length: ' + wrongKeyHint);
          }
          if (buf.length < FRAME_HEAD + len + TAG_BYTES) break;
          const iv = buf.subarray(5, FRAME_HEAD);
          const body = buf.subarray(FRAME_HEAD, FRAME_HEAD + len);
          const tag = buf.subarray(FRAME_HEAD + len, FRAME_HEAD + len + TAG_BYTES);
          const decipher = createDecipheriv('aes-256-gcm', key, iv);
          decipher.setAAD(aad(header, index++, final));
          decipher.setAuthTag(tag);
          let plain: Buffer;
          try {
            plain = Buffer.concat([decipher.update(body), decipher.final()]);
          } catch {
            throw new BackupIntegrityError(
              `Authentication failed at frame ${index - 1}: ${wrongKeyHint}`,
            );
          }
          this.push(plain);
          buf = buf.subarray(FRAME_HEAD + len + TAG_BYTES);
          if (final) finished = true;
        }
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback) {
      if (!finished || buf.length > 0) {
        done(new BackupIntegrityError('The encrypted backup is truncated (no final frame)'));
      } else done();
    },
  });
}
