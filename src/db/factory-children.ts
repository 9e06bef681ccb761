import { qualified } from './identifiers';
import type { PoolClient, Queryable } from './pool';
import { BOOKKEEPING } from './schema';
import { lockStageCursor, saveStageCursor, stageCheckpoint, WHOLE_BLOCK } from './stages';

/** A contract a factory created: the config's contract name, its address, and the factory event that named it. */
export interface FactoryChild {
  contract: string;
  address: string;
  blockNumber: number;
  logIndex: number;
}

/**
 * Discovery of children is a cursor in `_stages` like the downstream stages': every block up to
 * it has had its factory events read, and a rollback moves it down with the others.
 */
export const FACTORY_DISCOVERY = 'factory-discovery';

/** Children known at or below `toBlock`, per contract: what a range or a tip needs to ask for. */
export async function childrenUpTo(db: Queryable, schema: string, chainId: number, toBlock: number): Promise<FactoryChild[]> {
  const { rows } = await db.query<{ contract: string; address: string; block_number: string; log_index: number }>(
    `SELECT contract, address, block_number, log_index FROM ${qualified(schema, BOOKKEEPING.factoryChildren)}
      WHERE chain_id = $1 AND block_number <= $2 ORDER BY block_number, log_index`,
    [chainId, toBlock],
  );
  return rows.map((r) => ({ contract: r.contract, address: r.address, blockNumber: Number(r.block_number), logIndex: r.log_index }));
}

/** Records children (a child named twice keeps its first creation). */
export async function recordChildren(client: PoolClient, schema: string, chainId: number, children: readonly FactoryChild[]): Promise<void> {
  if (children.length === 0) return;
  await client.query(
    `INSERT INTO ${qualified(schema, BOOKKEEPING.factoryChildren)} (chain_id, contract, address, block_number, log_index)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::integer[])
     ON CONFLICT (chain_id, contract, address) DO UPDATE SET block_number = EXCLUDED.block_number, log_index = EXCLUDED.log_index
       WHERE (EXCLUDED.block_number, EXCLUDED.log_index) < (${qualified(schema, BOOKKEEPING.factoryChildren)}.block_number, ${qualified(schema, BOOKKEEPING.factoryChildren)}.log_index)`,
    [chainId, children.map((c) => c.contract), children.map((c) => c.address), children.map((c) => c.blockNumber), children.map((c) => c.logIndex)],
  );
}

/** How far factory events have been read (every block ≤ it); `startBlock - 1` before the first discovery. */
export async function discoveredThrough(client: PoolClient, schema: string, chainId: number, startBlock: number): Promise<number> {
  return stageCheckpoint(await lockStageCursor(client, schema, chainId, FACTORY_DISCOVERY, startBlock));
}

/** Moves the discovery cursor to `block`, in the transaction that recorded the children found up to it. */
export async function markDiscovered(client: PoolClient, schema: string, chainId: number, startBlock: number, block: number): Promise<void> {
  const cursor = await lockStageCursor(client, schema, chainId, FACTORY_DISCOVERY, startBlock);
  if (stageCheckpoint(cursor) >= block) return;
  await saveStageCursor(client, schema, chainId, FACTORY_DISCOVERY, { ...cursor, block, logIndex: WHOLE_BLOCK });
}

/** A rollback to `ancestor`: children created above it are gone with their blocks. */
export async function forgetChildrenAbove(client: PoolClient, schema: string, chainId: number, ancestor: number): Promise<void> {
  await client.query(`DELETE FROM ${qualified(schema, BOOKKEEPING.factoryChildren)} WHERE chain_id = $1 AND block_number > $2`, [chainId, ancestor]);
}
