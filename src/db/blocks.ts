import { qualified } from './identifiers';
import { BOOKKEEPING } from './schema';
import type { Pool } from './pool';

/** Stored block hashes in [fromBlock, toBlock], newest first. */
export async function storedHashes(pool: Pool, schema: string, chainId: number, fromBlock: number, toBlock: number): Promise<Array<{ number: number; hash: string }>> {
  const { rows } = await pool.query<{ block_number: string; block_hash: string }>(
    `SELECT block_number, block_hash FROM ${qualified(schema, BOOKKEEPING.blocks)}
      WHERE chain_id = $1 AND block_number BETWEEN $2 AND $3 ORDER BY block_number DESC`,
    [chainId, fromBlock, toBlock],
  );
  return rows.map((r) => ({ number: Number(r.block_number), hash: r.block_hash }));
}

export async function storedHash(pool: Pool, schema: string, chainId: number, block: number): Promise<string | undefined> {
  return (await storedHashes(pool, schema, chainId, block, block))[0]?.hash;
}
