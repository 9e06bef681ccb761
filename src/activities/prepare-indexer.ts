import { countRows, readCheckpoint, writeCheckpoint } from '../db/checkpoint';
import { specStartBlock } from '../spec';
import { discoveredThrough } from '../db/factory-children';
import { ensureSchema } from '../db/schema';
import { stageRuntimes } from '../stages/runtimes';
import type { ActivityEnv } from './env';
import type { PrepareIndexerInput, PrepareIndexerResult } from './types';

/**
 * Checks the chain id and what each stage checks (the handlers module loads), then (only then)
 * creates the tables and lets each stage prepare in the same transaction (the handlers' setup: a
 * setup that fails leaves nothing behind), and reads where the stored data ends.
 */
export async function prepareIndexer(env: ActivityEnv, { spec }: PrepareIndexerInput): Promise<PrepareIndexerResult> {
  await env.rpcFor(spec).assertChainId();
  for (const stage of stageRuntimes) await stage.check?.(env, spec);
  const router = env.routerFor(spec);
  const startBlock = specStartBlock(spec);
  const watcher = env.factoriesFor(spec);
  let discovered: number | undefined;
  const stages: object[] = [];
  await ensureSchema(env.pool, spec.name, router.tables, {
    stageDdl: stageRuntimes.flatMap((stage) => stage.ddl(spec.name)),
    then: async (client) => {
      if (!watcher.empty) discovered = await discoveredThrough(client, spec.name, spec.chainId, watcher.startBlock);
      for (const stage of stageRuntimes) stages.push(await stage.prepare(client, { env, spec, tables: router.tables }));
    },
  });
  // Later activities get the spec by reference (history stays small whatever the config's size).
  await env.rememberSpec(spec);
  let checkpoint = await readCheckpoint(env.pool, spec.name, spec.chainId);
  if (checkpoint === undefined) {
    checkpoint = startBlock - 1;
    await writeCheckpoint(env.pool, spec.name, spec.chainId, checkpoint);
  }
  const tables = router.tables.map((t) => t.table);
  const logsIndexed = await countRows(env.pool, spec.name, spec.chainId, tables);
  env.log().info({ checkpoint, logsIndexed, tables }, 'indexer prepared');
  return { ...(Object.assign({}, ...stages) as PrepareIndexerResult), checkpoint, logsIndexed, tables, discoveredThrough: discovered };
}
