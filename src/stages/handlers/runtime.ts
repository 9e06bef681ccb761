import { lockStageCursor, stageCheckpoint } from '../../db/stages';
import { specStartBlock } from '../../spec';
import type { StageRuntime } from '../runtime';
import { handlersActivities, handlersFor, type HandlersEnv } from './activities';
import { runSetup } from './batch';
import { HANDLERS_STAGE, repairHandlers, rewindHandlers } from './derived-state';
import { handlersMetrics } from './metrics';
import { undoLogDdl } from './undo-log';
import { forgetChainReadsAbove, rpcCacheDdl } from './chain-reads';
import type { HandlersPrepared } from './types';

/** The handlers stage on the worker (docs/handlers.md): its activities, prepare, rewind and metrics. */
export const handlersRuntime = {
  name: HANDLERS_STAGE,
  activities: handlersActivities(),
  ddl: (schema) => [...undoLogDdl(schema), ...rpcCacheDdl(schema)],
  // The module loads and names only configured events, or no table is created.
  async check(env, spec) {
    if (spec.handlers) await handlersFor(env, spec);
  },
  async prepare(client, { env, spec, tables }): Promise<HandlersPrepared> {
    if (!spec.handlers) return {};
    const startBlock = specStartBlock(spec);
    const handlersCheckpoint = stageCheckpoint(await lockStageCursor(client, spec.name, spec.chainId, HANDLERS_STAGE, startBlock));
    await runSetup(client, { spec, tables, handlers: await handlersFor(env, spec) });
    return { handlersCheckpoint };
  },
  rewind: async (client, { schema, chainId, ancestor, eventTables }) => {
    await rewindHandlers(client, schema, chainId, ancestor, eventTables.map((t) => t.table));
    // Reads of blocks that leave the chain are forgotten with them: the new fork's are its own.
    await forgetChainReadsAbove(client, schema, chainId, ancestor);
  },
  repair: (client, { schema, chainId, fromBlock, eventTables }) => repairHandlers(client, schema, chainId, fromBlock, eventTables.map((t) => t.table)),
  metrics: (registry) => handlersMetrics(registry),
} satisfies StageRuntime<HandlersEnv>;
