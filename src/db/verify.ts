import type { EventTable } from '../abi/layout';
import { qualified, quoteIdent } from './identifiers';
import { canonicalRow } from '../indexing/canonical';
import { BOOKKEEPING } from './schema';
import type { Pool } from './pool';

/** Canonical texts of the rows stored for [fromBlock, toBlock] across the given tables. */
export async function storedCanonicalRows(pool: Pool, schema: string, chainId: number, tables: EventTable[], fromBlock: number, toBlock: number): Promise<string[]> {
  const out: string[] = [];
  for (const table of tables) {
    const columns = ['block_number', 'block_hash', 'block_timestamp', 'log_index', 'tx_hash', 'tx_index', 'address', ...table.columns.map((c) => c.name)];
    const { rows } = await pool.query({
      text: `SELECT ${columns.map(quoteIdent).join(', ')} FROM ${qualified(schema, table.table)}
              WHERE chain_id = $1 AND block_number BETWEEN $2 AND $3 ORDER BY block_number, log_index`,
      values: [chainId, fromBlock, toBlock],
      rowMode: 'array',
    });
    for (const row of rows as unknown[][]) {
      const [blockNumber, blockHash, blockTimestamp, logIndex, txHash, txIndex, address, ...args] = row;
      out.push(canonicalRow(table, { blockNumber, logIndex, blockHash, blockTimestamp, txHash, txIndex, address }, args));
    }
  }
  return out;
}

/** What a verification run found, as `_verifications` records it and `indexer verify` prints it. */
export interface VerificationSummary {
  startedAt: string;
  /** The range actually checked (lower when the run's budget ran out first). */
  fromBlock: number;
  toBlock: number;
  chunks: number;
  mismatches: number;
  repaired: number;
  /** Events the repairs added (an endpoint had omitted them), removed (not on the chain) and changed. */
  added: number;
  removed: number;
  changed: number;
}

export interface VerificationRecord extends VerificationSummary {
  schema: string;
  chainId: number;
  details: unknown;
}

export async function recordVerification(pool: Pool, r: VerificationRecord): Promise<void> {
  await pool.query(
    `INSERT INTO ${qualified(r.schema, BOOKKEEPING.verifications)} (chain_id, started_at, from_block, to_block, chunks, mismatches, repaired, added, removed, changed, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [r.chainId, r.startedAt, r.fromBlock, r.toBlock, r.chunks, r.mismatches, r.repaired, r.added, r.removed, r.changed, JSON.stringify(r.details)],
  );
}
