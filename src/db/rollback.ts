import type { EventTable } from '../abi/layout';
import { qualified } from './identifiers';
import { lockChainHistory } from './locks';
import { BOOKKEEPING } from './schema';
import { inTransaction, type Pool } from './pool';
import { forgetChildrenAbove } from './factory-children';
import { rewindHandlers, rewindStages } from './stages';
import { recordRetractions } from './stream';

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
  /** The event tables as the stream publishes them: retractions are built from the rows before they go. */
  eventTables?: readonly EventTable[];
}

/**
 * Deletes every row, block hash and range record above the ancestor, undoes what handlers made of
 * them, moves the checkpoint and the stages' cursors to it and records why, in one transaction.
 * Running it again changes nothing more.
 */
export async function rollbackTo(pool: Pool, w: RollbackWrite): Promise<{ rowsDeleted: number }> {
  return inTransaction(pool, async (client) => {
    await lockChainHistory(client, w.schema, w.chainId);
    // The stream owes a retraction for every published event about to go (its outbox, this transaction).
    if (w.eventTables) await recordRetractions(client, w.schema, w.chainId, w.ancestor, w.eventTables);
    let rowsDeleted = 0;
    for (const table of w.tables) {
      const { rowCount } = await client.query(`DELETE FROM ${qualified(w.schema, table)} WHERE chain_id = $1 AND block_number > $2`, [w.chainId, w.ancestor]);
      rowsDeleted += rowCount ?? 0;
    }
    // Downstream stages rewind in the same transaction: handlers' effects above the ancestor are undone.
    await rewindHandlers(client, w.schema, w.chainId, w.ancestor, w.tables);
    await rewindStages(client, w.schema, w.chainId, w.ancestor);
    await forgetChildrenAbove(client, w.schema, w.chainId, w.ancestor);
    await client.query(`DELETE FROM ${qualified(w.schema, BOOKKEEPING.blocks)} WHERE chain_id = $1 AND block_number > $2`, [w.chainId, w.ancestor]);
    await client.query(`DELETE FROM ${qualified(w.schema, BOOKKEEPING.ranges)} WHERE chain_id = $1 AND to_block > $2`, [w.chainId, w.ancestor]);
    await client.query(
      `INSERT INTO ${qualified(w.schema, BOOKKEEPING.checkpoints)} (chain_id, block_number) VALUES ($1, $2)
       ON CONFLICT (chain_id) DO UPDATE SET block_number = EXCLUDED.block_number, updated_at = now()`,
      [w.chainId, w.ancestor],
    );
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
