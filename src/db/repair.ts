import type { EventTable } from '../abi/layout';
import { qualified } from './identifiers';
import { lockChainHistory } from './locks';
import { inTransaction, type Pool, type PoolClient } from './pool';
import { BOOKKEEPING } from './schema';
import { WHOLE_BLOCK } from './stages';
import { readStoredEvents, type StoredEvent } from './stored-events';
import { writeRangeIn, type RangeWrite } from './writer';

/** What a repair changed in the stored events, as the downstream stages get it. */
export interface RepairChange {
  schema: string;
  chainId: number;
  eventTables: readonly EventTable[];
  /** The lowest block whose events changed: every stage that went past it must end as if the repaired events had been there from the start. */
  fromBlock: number;
  /** Events that left the table, or whose row changed (as they were), in chain order. */
  left: StoredEvent[];
  /** Events that entered the table, or whose row changed (as they are now), in chain order. */
  entered: StoredEvent[];
}

/** A downstream stage's side of a repair, in its transaction (stages/runtime.ts, `repair`): a small summary for the workflow, if any. */
export type StageRepair = (client: PoolClient, change: RepairChange) => Promise<object | undefined>;

export interface RepairResult {
  /** A rollback moved the checkpoint below the chunk first: nothing was written (the chain is moving there). */
  skipped: boolean;
  added: number;
  removed: number;
  changed: number;
  /** The lowest block whose events changed (null: the events are as they were; hashes alone may have been replaced). */
  fromBlock: number | null;
  /** What each stage made of it, by stage name. */
  stages: Record<string, object>;
}

/**
 * Verification's repair of one chunk, in one transaction under the lock rollbacks take (a reorg or
 * reset in flight wins: the chunk is skipped): the chunk's rows and block hashes replaced by the
 * chain's, the events that changed counted, and every stage told, in the same transaction, so a
 * crash between the repair and the stages loses nothing.
 */
export async function repairRange(pool: Pool, w: RangeWrite, stages: ReadonlyArray<{ name: string; repair: StageRepair }>): Promise<RepairResult> {
  return inTransaction(pool, async (client) => {
    await lockChainHistory(client, w.schema, w.chainId);
    const { rows } = await client.query<{ block_number: string }>(`SELECT block_number FROM ${qualified(w.schema, BOOKKEEPING.checkpoints)} WHERE chain_id = $1`, [w.chainId]);
    if (!rows[0] || Number(rows[0].block_number) < w.toBlock) return { skipped: true, added: 0, removed: 0, changed: 0, fromBlock: null, stages: {} };
    const stored = () => readStoredEvents(client, w.schema, w.chainId, w.tables, { block: w.fromBlock - 1, logIndex: WHOLE_BLOCK }, w.toBlock, Number.MAX_SAFE_INTEGER);
    const before = await stored();
    // The range's stored hashes are replaced whole by canonical ones.
    await client.query(`DELETE FROM ${qualified(w.schema, BOOKKEEPING.blocks)} WHERE chain_id = $1 AND block_number BETWEEN $2 AND $3`, [w.chainId, w.fromBlock, w.toBlock]);
    await writeRangeIn(client, w);
    const diff = diffEvents(before, await stored());
    const result: RepairResult = { skipped: false, added: diff.added, removed: diff.removed, changed: diff.changed, fromBlock: null, stages: {} };
    if (diff.left.length === 0 && diff.entered.length === 0) return result;
    result.fromBlock = Math.min(diff.left[0]?.blockNumber ?? Infinity, diff.entered[0]?.blockNumber ?? Infinity);
    const change: RepairChange = { schema: w.schema, chainId: w.chainId, eventTables: w.tables, fromBlock: result.fromBlock, left: diff.left, entered: diff.entered };
    for (const stage of stages) {
      const summary = await stage.repair(client, change);
      if (summary) result.stages[stage.name] = summary;
    }
    return result;
  });
}

/** Everything a stored event is, as one text: two rows at one position are the same event when these are equal. */
function contentOf(e: StoredEvent): string {
  return JSON.stringify([e.table.table, e.blockHash, e.blockTimestamp, e.txHash, e.txIndex, e.address, e.transaction ?? null, e.cells]);
}

/** The events that left, entered or changed between two reads of a chunk (each in chain order). */
export function diffEvents(before: readonly StoredEvent[], after: readonly StoredEvent[]): { left: StoredEvent[]; entered: StoredEvent[]; added: number; removed: number; changed: number } {
  const at = (e: StoredEvent) => `${e.blockNumber}:${e.logIndex}`;
  const now = new Map(after.map((e) => [at(e), e]));
  const was = new Map(before.map((e) => [at(e), e]));
  const left = before.filter((e) => now.get(at(e)) === undefined || contentOf(now.get(at(e))!) !== contentOf(e));
  const entered = after.filter((e) => was.get(at(e)) === undefined || contentOf(was.get(at(e))!) !== contentOf(e));
  const changed = entered.filter((e) => was.has(at(e))).length;
  return { left, entered, added: entered.length - changed, removed: left.length - changed, changed };
}
