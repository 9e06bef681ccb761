import type { PoolClient } from './pool';

const historyKey = (schema: string, chainId: number) => `history:${schema}:${chainId}`;

/**
 * Serialises the transactions that rewrite a chain's indexed history (rollbacks, resets,
 * verification repairs) so that one never works from what another is about to change.
 */
export async function lockChainHistory(client: PoolClient, schema: string, chainId: number): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [historyKey(schema, chainId)]);
}

/**
 * The same lock, shared: for a transaction that reads the stored history and rewrites none of it
 * (a handlers batch). It waits for a rewrite and keeps one out until it ends, but not another
 * reader: the next handlers batch reads its events while the one before it finishes.
 */
export async function lockChainHistoryShared(client: PoolClient, schema: string, chainId: number): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock_shared(hashtext($1))', [historyKey(schema, chainId)]);
}
