import { qualified } from './identifiers';
import { BOOKKEEPING } from './schema';
import type { Pool, Queryable } from './pool';

/** The stored checkpoint: every block ≤ it is indexed. Undefined when the chain was never indexed. */
export async function readCheckpoint(pool: Queryable, schema: string, chainId: number): Promise<number | undefined> {
  const { rows } = await pool.query<{ block_number: string }>(
    `SELECT block_number FROM ${qualified(schema, BOOKKEEPING.checkpoints)} WHERE chain_id = $1`,
    [chainId],
  );
  return rows[0] ? Number(rows[0].block_number) : undefined;
}

/**
 * Sets the checkpoint (the workflow's contiguous watermark), and with it what the workflow's status
 * shows of the indexer, for readers without Temporal (the read API's _meta): its mode and the head.
 */
export async function writeCheckpoint(pool: Pool, schema: string, chainId: number, block: number, shown: { mode?: string; head?: number | null } = {}): Promise<void> {
  await pool.query(
    `INSERT INTO ${qualified(schema, BOOKKEEPING.checkpoints)} (chain_id, block_number, mode, head) VALUES ($1, $2, $3, $4)
     ON CONFLICT (chain_id) DO UPDATE SET block_number = EXCLUDED.block_number, updated_at = now(),
       mode = coalesce(EXCLUDED.mode, ${qualified(schema, BOOKKEEPING.checkpoints)}.mode), head = coalesce(EXCLUDED.head, ${qualified(schema, BOOKKEEPING.checkpoints)}.head)`,
    [chainId, block, shown.mode ?? null, shown.head ?? null],
  );
}

/** The chain's head as an activity last saw it (the read API's _meta). */
export async function recordHead(pool: Queryable, schema: string, chainId: number, head: number): Promise<void> {
  await pool.query(`UPDATE ${qualified(schema, BOOKKEEPING.checkpoints)} SET head = $2 WHERE chain_id = $1 AND head IS DISTINCT FROM $2`, [chainId, head]);
}

/** Rows stored for a chain across the given tables. */
export async function countRows(pool: Pool, schema: string, chainId: number, tables: string[]): Promise<number> {
  let total = 0;
  for (const table of tables) {
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified(schema, table)} WHERE chain_id = $1`, [chainId]);
    total += Number(rows[0]?.n ?? 0);
  }
  return total;
}
