import type { PoolClient } from './pool';

/**
 * Serialises the transactions that rewrite a chain's indexed history (rollbacks, resets,
 * verification repairs) so that one never works from what another is about to change.
 */
export async function lockChainHistory(client: PoolClient, schema: string, chainId: number): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`history:${schema}:${chainId}`]);
}
