// The framed AES-256-GCM streams: any content round-trips, and any change to the ciphertext,
// its order or its length is detected.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDecryptStream, createEncryptStream } from '../../src/ops/backup-crypto.js';

const key = randomBytes(32);

async function through(data: Buffer, ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from([data]),
    ...(stages as [NodeJS.ReadWriteStream]),
    new Writable({
      write(c: Buffer, _e, done) {
        chunks.push(c);
        done();
      },
    }),
  );
  return Buffer.concat(chunks);
}

describe('backup encryption', () => {
  it('round-trips any content, whatever the frame size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 5000 }),
        fc.integer({ min: 1, max: 700 }),
        async (bytes, frame) => {
          const data = Buffer.from(bytes);
          const sealed = await through(data, createEncryptStream(key, frame));
          expect(await through(sealed, createDecryptStream(key))).toEqual(data);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('detects any flipped bit', async () => {
    const data = randomBytes(3000);
    const sealed = await through(data, createEncryptStream(key, 512));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: sealed.length - 1 }),
        fc.integer({ min: 0, max: 7 }),
        async (i, bit) => {
          const bad = Buffer.from(sealed);
          bad[i] = bad[i]! ^ (1 << bit);
          await expect(through(bad, createDecryptStream(key))).rejects.toThrow();
        },
      ),
      { numRuns: 80 },
    );
  });

  it('detects every flipped bit of a frame flag (fast-check found bit 1 of the first one)', async () => {
    const sealed = await through(randomBytes(3000), createEncryptStream(key, 512));
    const firstFlag = 12; // after the 8-byte magic and the 4-byte frame size
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(sealed);
      bad[firstFlag] = bad[firstFlag]! ^ (1 << bit);
      await expect(through(bad, createDecryptStream(key)), `bit ${bit}`).rejects.toThrow(
        /Corrupt frame flag|Authentication failed/,
      );
    }
  });

  it('detects truncation at any length, and a wrong key', async () => {
    const data = randomBytes(2000);
    const sealed = await through(data, createEncryptStream(key, 256));
    for (let len = 0; len < sealed.length; len += 37) {
      await expect(through(sealed.subarray(0, len), createDecryptStream(key))).rejects.toThrow(
        /truncated|bad header|Authentication/,
      );
    }
    await expect(through(sealed, createDecryptStream(randomBytes(32)))).rejects.toThrow(
      /Authentication failed at frame 0/,
    );
  });
});
