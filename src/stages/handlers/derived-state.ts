import { qualified } from '../../db/identifiers';
import type { PoolClient } from '../../db/pool';
import { BOOKKEEPING } from '../../db/schema';
import { WHOLE_BLOCK, lockStageCursor, stageCheckpoint } from '../../db/stages';
import { UNDO_LOG, derivedTables, undoAbove } from './undo-log';

/** The handlers stage's row in `_stages`. */
export const HANDLERS_STAGE = 'handlers';

/**
 * The handlers' side of a rollback to `ancestor`, in its transaction: their changes above it are
 * undone from the log. When the log no longer reaches down to it (trimmed below finality, e.g. an
 * `indexer reset` far back), derived state starts over instead: replaying stored events is slower
 * but always right.
 */
export async function rewindHandlers(client: PoolClient, schema: string, chainId: number, ancestor: number, eventTables: readonly string[]): Promise<'undo' | 'rebuild'> {
  const { rows } = await client.query<{ block_number: string; undo_from: string }>(
    `SELECT block_number, undo_from FROM ${qualified(schema, BOOKKEEPING.stages)} WHERE chain_id = $1 AND stage = $2 FOR UPDATE`,
    [chainId, HANDLERS_STAGE],
  );
  const cursor = rows[0];
  if (!cursor || Number(cursor.block_number) <= ancestor || ancestor >= Number(cursor.undo_from)) {
    await undoAbove(client, schema, chainId, ancestor);
    return 'undo';
  }
  await emptyDerivedState(client, schema, chainId, -1, eventTables, { setupPending: true });
  return 'rebuild';
}

/** What the handlers' repair did: where the stage replays from, by the undo log or by a rebuild from stored events. */
export interface HandlersRepair {
  replayFrom: number;
  via: 'undo' | 'rebuild';
  fromBlock: number;
}

/**
 * The handlers' side of a repair whose first changed block is `fromBlock`, in its transaction: if
 * they went past it, their changes above it are undone (or, beyond the undo log's reach, derived
 * state starts over) and their cursor moves back before it, so they handle the repaired events,
 * and everything after them, again: no RPC (stored events only).
 */
export async function repairHandlers(client: PoolClient, schema: string, chainId: number, fromBlock: number, eventTables: readonly string[]): Promise<HandlersRepair | undefined> {
  const table = qualified(schema, BOOKKEEPING.stages);
  const cursor = async () =>
    (await client.query<{ block_number: string; log_index: number }>(`SELECT block_number, log_index FROM ${table} WHERE chain_id = $1 AND stage = $2 FOR UPDATE`, [chainId, HANDLERS_STAGE])).rows[0];
  const before = await cursor();
  if (!before || Number(before.block_number) < fromBlock) return undefined;
  const via = await rewindHandlers(client, schema, chainId, fromBlock - 1, eventTables);
  await client.query(`UPDATE ${table} SET block_number = $3, log_index = $4, updated_at = now() WHERE chain_id = $1 AND stage = $2 AND block_number >= $3 + 1`, [
    chainId,
    HANDLERS_STAGE,
    fromBlock - 1,
    WHOLE_BLOCK,
  ]);
  const after = (await cursor())!;
  return { replayFrom: stageCheckpoint({ block: Number(after.block_number), logIndex: after.log_index }), via, fromBlock };
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
  await client.query(`DELETE FROM ${qualified(schema, UNDO_LOG)}`);
  await client.query(
    `UPDATE ${table} SET block_number = CASE WHEN chain_id = $1 THEN $2 ELSE -1 END, log_index = $3, undo_from = -1,
       rebuild_id = coalesce($5, rebuild_id), setup_pending = $6, updated_at = now() WHERE stage = $4`,
    [chainId, startBlock - 1, WHOLE_BLOCK, HANDLERS_STAGE, options.rebuildId ?? null, options.setupPending ?? false],
  );
  return false;
}
