import { countRows, readCheckpoint, writeCheckpoint } from '../db/checkpoint';
import { discoveredThrough } from '../db/factory-children';
import { ensureSchema } from '../db/schema';
import { HANDLERS_STAGE, lockStageCursor, stageCheckpoint } from '../db/stages';
import { countOutbox, STREAM_STAGE } from '../db/stream';
import { runSetup } from '../handlers/batch';
import type { ActivityEnv } from './env';
import type { PrepareIndexerInput, PrepareIndexerResult } from './types';

/**
 * Checks the chain id and the handlers module, then (only then) creates the tables and runs the
 * handlers' setup in one transaction (a setup that fails leaves nothing behind), and reads where
 * the stored data ends.
 */
export async function prepareIndexer(env: ActivityEnv, { spec }: PrepareIndexerInput): Promise<PrepareIndexerResult> {
  await env.rpcFor(spec).assertChainId();
  const router = env.routerFor(spec);
  const handlers = spec.handlers ? await env.handlersFor(spec) : undefined;
  const startBlock = Math.min(...spec.contracts.map((c) => c.startBlock));
  const watcher = env.factoriesFor(spec);
  let handlersCheckpoint: number | undefined;
  let discovered: number | undefined;
  let stream: { streamCheckpoint: number; streamRetractionsPending: boolean } | undefined;
  await ensureSchema(env.pool, spec.name, router.tables, async (client) => {
    if (!watcher.empty) discovered = await discoveredThrough(client, spec.name, spec.chainId, watcher.startBlock);
    if (spec.stream) {
      const cursor = await lockStageCursor(client, spec.name, spec.chainId, STREAM_STAGE, startBlock);
      stream = { streamCheckpoint: stageCheckpoint(cursor), streamRetractionsPending: (await countOutbox(client, spec.name, spec.chainId)) > 0 };
    }
    if (!handlers) return;
    handlersCheckpoint = stageCheckpoint(await lockStageCursor(client, spec.name, spec.chainId, HANDLERS_STAGE, startBlock));
    await runSetup(client, { spec, tables: router.tables, handlers });
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
  return { checkpoint, logsIndexed, tables, handlersCheckpoint, discoveredThrough: discovered, ...stream };
}
