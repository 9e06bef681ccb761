import { qualified } from './identifiers';
import type { PoolClient } from './pool';
import { BOOKKEEPING } from './schema';

/**
 * Where a downstream stage (handlers, stream) stands in a chain's stored events: the last event it
 * finished, as (block, log index). `WHOLE_BLOCK` as the log index means the block is done.
 */
export interface StageCursor {
  block: number;
  logIndex: number;
  /** Changes for blocks above this are all in the undo log (handlers); below, they were trimmed. */
  undoFrom: number;
  /** The last `indexer rebuild` this stage went through. */
  rebuildId: string | null;
  /** Derived tables were emptied (a rollback below the undo log): setup runs again before the next event. */
  setupPending: boolean;
}

export const WHOLE_BLOCK = 2_147_483_647;

/** The last block whose events the stage has all finished (status `checkpoint`). */
export function stageCheckpoint(cursor: Pick<StageCursor, 'block' | 'logIndex'>): number {
  return cursor.logIndex === WHOLE_BLOCK ? cursor.block : cursor.block - 1;
}

/** The stage's cursor, locked for this transaction; created before the start block when missing. */
export async function lockStageCursor(client: PoolClient, schema: string, chainId: number, stage: string, startBlock: number): Promise<StageCursor> {
  const table = qualified(schema, BOOKKEEPING.stages);
  // Both issued at once: on a pipelined connection one round trip, and the server still runs them in order.
  const [, { rows }] = await Promise.all([
    client.query(`INSERT INTO ${table} (chain_id, stage, block_number, log_index, undo_from) VALUES ($1, $2, $3, $4, $3) ON CONFLICT (chain_id, stage) DO NOTHING`, [
      chainId,
      stage,
      startBlock - 1,
      WHOLE_BLOCK,
    ]),
    client.query<{ block_number: string; log_index: number; undo_from: string; rebuild_id: string | null; setup_pending: boolean }>(
      `SELECT block_number, log_index, undo_from, rebuild_id, setup_pending FROM ${table} WHERE chain_id = $1 AND stage = $2 FOR UPDATE`,
      [chainId, stage],
    ),
  ]);
  const row = rows[0]!;
  return { block: Number(row.block_number), logIndex: row.log_index, undoFrom: Number(row.undo_from), rebuildId: row.rebuild_id, setupPending: row.setup_pending };
}

export async function saveStageCursor(client: PoolClient, schema: string, chainId: number, stage: string, cursor: StageCursor): Promise<void> {
  await client.query(
    `UPDATE ${qualified(schema, BOOKKEEPING.stages)} SET block_number = $3, log_index = $4, undo_from = $5, rebuild_id = $6, setup_pending = $7, updated_at = now()
      WHERE chain_id = $1 AND stage = $2`,
    [chainId, stage, cursor.block, cursor.logIndex, cursor.undoFrom, cursor.rebuildId, cursor.setupPending],
  );
}

/** A rollback to `ancestor`: every stage of the chain that went past it moves back to it. */
export async function rewindStages(client: PoolClient, schema: string, chainId: number, ancestor: number): Promise<void> {
  await client.query(
    `UPDATE ${qualified(schema, BOOKKEEPING.stages)} SET block_number = $2, log_index = $3, updated_at = now() WHERE chain_id = $1 AND block_number > $2`,
    [chainId, ancestor, WHOLE_BLOCK],
  );
}
