import { qualified } from './identifiers';
import type { PoolClient } from './pool';
import { BOOKKEEPING } from './schema';
import { derivedTables, undoAbove } from './undo-log';

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

export const HANDLERS_STAGE = 'handlers';

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

/**
 * The handlers' side of a rollback to `ancestor`, in its transaction: their changes above it are
 * undone from the log. When the log no longer reaches down to it (trimmed below finality, e.g. an
 * `indexer reset` far back), derived state starts over instead: replaying stored events is slower
 * but always right.
 */
export async function rewindHandlers(client: PoolClient, schema: string, chainId: number, ancestor: number, eventTables: readonly string[]): Promise<void> {
  const { rows } = await client.query<{ block_number: string; undo_from: string }>(
    `SELECT block_number, undo_from FROM ${qualified(schema, BOOKKEEPING.stages)} WHERE chain_id = $1 AND stage = $2 FOR UPDATE`,
    [chainId, HANDLERS_STAGE],
  );
  const cursor = rows[0];
  if (!cursor || Number(cursor.block_number) <= ancestor || ancestor >= Number(cursor.undo_from)) {
    await undoAbove(client, schema, chainId, ancestor);
    return;
  }
  await emptyDerivedState(client, schema, chainId, -1, eventTables, { setupPending: true });
}

/**
 * Derived tables emptied, the undo log cleared, and every chain's handlers back before their first
 * event (derived tables are shared by the indexer's chains). With a `rebuildId` (`indexer rebuild`,
 * asked of each chain's workflow), only the first request does it; returns true for the others.
 */
export async function emptyDerivedState(
  client: PoolClient,
  schema: string,
  chainId: number,
  startBlock: number,
  eventTables: readonly string[],
  options: { rebuildId?: string; setupPending?: boolean },
): Promise<boolean> {
  const table = qualified(schema, BOOKKEEPING.stages);
  if (options.rebuildId) {
    const cursor = await lockStageCursor(client, schema, chainId, HANDLERS_STAGE, startBlock);
    if (cursor.rebuildId === options.rebuildId) return true;
  }
  const derived = await derivedTables(client, schema, eventTables);
  if (derived.length > 0) await client.query(`TRUNCATE ${derived.map((t) => qualified(schema, t)).join(', ')}`);
  await client.query(`DELETE FROM ${qualified(schema, BOOKKEEPING.undoLog)}`);
  await client.query(
    `UPDATE ${table} SET block_number = CASE WHEN chain_id = $1 THEN $2 ELSE -1 END, log_index = $3, undo_from = -1,
       rebuild_id = coalesce($5, rebuild_id), setup_pending = $6, updated_at = now() WHERE stage = $4`,
    [chainId, startBlock - 1, WHOLE_BLOCK, HANDLERS_STAGE, options.rebuildId ?? null, options.setupPending ?? false],
  );
  return false;
}
