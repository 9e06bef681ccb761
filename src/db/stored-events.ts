import { COMMON_COLUMNS, type EventTable } from '../abi/layout';
import { qualified, quoteIdent } from './identifiers';
import type { PoolClient } from './pool';

/** One stored event row, as the downstream stages read it back. */
export interface StoredEvent {
  table: EventTable;
  blockNumber: number;
  blockHash: string;
  /** Unix seconds; null where unknown (rows stored before the column existed). */
  blockTimestamp: number | null;
  logIndex: number;
  txHash: string;
  txIndex: number | null;
  address: string;
  /** The argument columns, in the table's order, as node-pg returns them (numeric as text, jsonb parsed). */
  cells: unknown[];
}

const COMMON = COMMON_COLUMNS.map((c) => c.name).filter((c) => c !== 'chain_id');

/**
 * The chain's stored events after `after` (block, log index) up to block `upTo`, across every
 * event table, in (block_number, log_index) order: the durable, ordered log the stages consume.
 * Each table is read by its primary key, and the per-table lists are merged.
 */
export async function readStoredEvents(
  client: PoolClient,
  schema: string,
  chainId: number,
  tables: readonly EventTable[],
  after: { block: number; logIndex: number },
  upTo: number,
  limit: number,
): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (const table of tables) {
    const columns = [...COMMON, ...table.columns.map((c) => c.name)];
    const { rows } = await client.query({
      text: `SELECT ${columns.map(quoteIdent).join(', ')} FROM ${qualified(schema, table.table)}
              WHERE chain_id = $1 AND (block_number, log_index) > ($2, $3) AND block_number <= $4
              ORDER BY block_number, log_index LIMIT $5`,
      values: [chainId, after.block, after.logIndex, upTo, limit],
      rowMode: 'array',
    });
    for (const [blockNumber, blockHash, logIndex, txHash, address, ...cells] of rows as unknown[][]) {
      events.push({
        table,
        blockNumber: Number(blockNumber),
        blockHash: String(blockHash),
        blockTimestamp: null,
        logIndex: Number(logIndex),
        txHash: String(txHash),
        txIndex: null,
        address: String(address),
        cells,
      });
    }
  }
  events.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  return events.length > limit ? events.slice(0, limit) : events;
}
