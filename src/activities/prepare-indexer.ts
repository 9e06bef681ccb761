import { countRows, readCheckpoint, writeCheckpoint } from '../db/checkpoint';
import { ensureSchema } from '../db/schema';
import type { ActivityEnv } from './env';
import type { PrepareIndexerInput, PrepareIndexerResult } from './types';

/** Checks the chain id, then (only then) creates the tables, and reads where the stored data ends. */
export async function prepareIndexer(env: ActivityEnv, { spec }: PrepareIndexerInput): Promise<PrepareIndexerResult> {
  await env.rpcFor(spec).assertChainId();
  const router = env.routerFor(spec);
  await ensureSchema(env.pool, spec.name, router.tables);
  let checkpoint = await readCheckpoint(env.pool, spec.name, spec.chainId);
  if (checkpoint === undefined) {
    checkpoint = Math.min(...spec.contracts.map((c) => c.startBlock)) - 1;
    await writeCheckpoint(env.pool, spec.name, spec.chainId, checkpoint);
  }
  const tables = router.tables.map((t) => t.table);
  const logsIndexed = await countRows(env.pool, spec.name, spec.chainId, tables);
  env.log().info({ checkpoint, logsIndexed, tables }, 'indexer prepared');
  return { checkpoint, logsIndexed, tables };
}
