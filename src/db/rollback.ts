import type { EventTable } from '../abi/layout';
import { qualified } from './identifiers';
import { lockChainHistory } from './locks';
import { BOOKKEEPING } from './schema';
import { inTransaction, type Pool } from './pool';
import { forgetChildrenAbove } from './factory-children';
import type { PoolClient } from './pool';
import { notifyProgress } from './notify';
import { rewindStages, stageCheckpoint } from './stages';

export interface RollbackWrite {
  schema: string;
  chainId: number;
  tables: string[];
  /** Everything above this block goes; it becomes the checkpoint. */
  ancestor: number;
  detectedBlock: number;
  depth: number;
  oldHash: string | null;
  newHash: string | null;
  reason: 'reorg' | 'reset';
  /** Makes a retried rollback record itself once (the rollback workflow's run id). */
  key: string;
  /** The event tables: downstream stages read the rows above the ancestor before they go. */
  eventTables: readonly EventTable[];
}

/** A downstream stage's side of a rollback, in its transaction, before the rows go (stages/runtime.ts, `rewind`). */
export type StageRewind = (client: PoolClient, rollback: { schema: string; chainId: number; ancestor: number; eventTables: readonly EventTable[] }) => Promise<void>;

/**
 * Deletes every row, block hash and range record above the ancestor, lets every downstream stage
 * rewind (what it did with those rows is undone, or owed), moves the checkpoint and the stages'
 * cursors to it and records why, in one transaction. Running it again changes nothing more.
 */
export async function rollbackTo(pool: Pool, w: RollbackWrite, stages: readonly StageRewind[]): Promise<{ rowsDeleted: number }> {
  return inTransaction(pool, async (client) => {
    await lockChainHistory(client, w.schema, w.chainId);
    for (const rewind of stages) await rewind(client, { schema: w.schema, chainId: w.chainId, ancestor: w.ancestor, eventTables: w.eventTables });
    let rowsDeleted = 0;
    for (const table of w.tables) {
      const { rowCount } = await client.query(`DELETE FROM ${qualified(w.schema, table)} WHERE chain_id = $1 AND block_number > $2`, [w.chainId, w.ancestor]);
      rowsDeleted += rowCount ?? 0;
    }
    await rewindStages(client, w.schema, w.chainId, w.ancestor);
    await forgetChildrenAbove(client, w.schema, w.chainId, w.ancestor);
    await client.query(`DELETE FROM ${qualified(w.schema, BOOKKEEPING.blocks)} WHERE chain_id = $1 AND block_number > $2`, [w.chainId, w.ancestor]);
    await client.query(`DELETE FROM ${qualified(w.schema, BOOKKEEPING.intervalBlocks)} WHERE chain_id = $1 AND block_number > $2`, [w.chainId, w.ancestor]);
    await client.query(`DELETE FROM ${qualified(w.schema, BOOKKEEPING.ranges)} WHERE chain_id = $1 AND to_block > $2`, [w.chainId, w.ancestor]);
    await client.query(
      `INSERT INTO ${qualified(w.schema, BOOKKEEPING.checkpoints)} (chain_id, block_number) VALUES ($1, $2)
       ON CONFLICT (chain_id) DO UPDATE SET block_number = EXCLUDED.block_number, updated_at = now()`,
      [w.chainId, w.ancestor],
    );
    // The read API's subscribers refetch when the rollback commits (docs/api.md).
    const handlers = await client.query<{ block_number: string; log_index: number }>(
      `SELECT block_number, log_index FROM ${qualified(w.schema, BOOKKEEPING.stages)} WHERE chain_id = $1 AND stage = 'handlers'`,
      [w.chainId],
    );
    const cursor = handlers.rows[0];
    await notifyProgress(client, w.schema, {
      chainId: w.chainId,
      checkpoint: w.ancestor,
      handlersCheckpoint: cursor ? stageCheckpoint({ block: Number(cursor.block_number), logIndex: cursor.log_index }) : null,
      reorg: true,
    });
    await client.query(
      `INSERT INTO ${qualified(w.schema, BOOKKEEPING.reorgs)}
         (chain_id, detected_block, common_ancestor, depth, old_hash, new_hash, rows_deleted, reason, key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (key) DO NOTHING`,
      [w.chainId, w.detectedBlock, w.ancestor, w.depth, w.oldHash, w.newHash, rowsDeleted, w.reason, w.key],
    );
    return { rowsDeleted };
  });
}

/** Hashes far below the head are final: keep only the window reorg detection can need. */
export async function pruneBlockHashes(pool: Pool, schema: string, chainId: number, belowBlock: number): Promise<void> {
  await pool.query(`DELETE FROM ${qualified(schema, BOOKKEEPING.blocks)} WHERE chain_id = $1 AND block_number < $2`, [chainId, belowBlock]);
}
