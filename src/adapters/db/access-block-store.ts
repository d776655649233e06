// ManualBlockStore on PostgreSQL (server or PGlite): the access blocklist's manual entries.
import { eq, gt, lt } from 'drizzle-orm';
import type { ManualBlock, ManualBlockStore } from '../../ports/access-blocks.js';
import type { Db } from './database.js';
import { accessBlocks } from './schema.js';

type Row = typeof accessBlocks.$inferSelect;

const toBlock = (row: Row): ManualBlock => ({
  address: row.address,
  reason: row.reason,
  createdAt: row.createdAt,
  createdBy: row.createdBy,
  expiresAt: row.expiresAt,
});

export function createPgManualBlockStore(db: Db): ManualBlockStore {
  return {
    async listActive(now) {
      const rows = await db
        .select()
        .from(accessBlocks)
        .where(gt(accessBlocks.expiresAt, now))
        .orderBy(accessBlocks.address);
      return rows.map(toBlock);
    },
    async upsert(block) {
      const [row] = await db
        .insert(accessBlocks)
        .values(block)
        .onConflictDoUpdate({
          target: accessBlocks.address,
          set: {
            reason: block.reason,
            createdAt: block.createdAt,
            createdBy: block.createdBy,
            expiresAt: block.expiresAt,
          },
        })
        .returning();
      return toBlock(row!);
    },
    async remove(address) {
      const [row] = await db
        .delete(accessBlocks)
        .where(eq(accessBlocks.address, address))
        .returning();
      return row ? toBlock(row) : undefined;
    },
    async deleteExpired(cutoff) {
      const rows = await db
        .delete(accessBlocks)
        .where(lt(accessBlocks.expiresAt, cutoff))
        .returning({ address: accessBlocks.address });
      return rows.length;
    },
  };
}
