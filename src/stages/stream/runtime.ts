import { lockStageCursor, stageCheckpoint } from '../../db/stages';
import { specStartBlock } from '../../spec';
import type { StageRuntime } from '../runtime';
import { streamActivities, type StreamEnv } from './activities';
import { STREAM_STAGE, countOutbox, recordRepair, recordRetractions, streamDdl } from './outbox';
import { streamMetrics } from './metrics';
import type { StreamPrepared } from './types';

/** The stream stage on the worker (docs/stream.md): its activities, prepare, rewind and metrics. */
export const streamRuntime = {
  name: STREAM_STAGE,
  activities: streamActivities(),
  ddl: streamDdl,
  async prepare(client, { spec }): Promise<StreamPrepared> {
    if (!spec.stream) return {};
    const startBlock = specStartBlock(spec);
    const cursor = await lockStageCursor(client, spec.name, spec.chainId, STREAM_STAGE, startBlock);
    // A rollback in an earlier run may have left retractions owed.
    return { streamCheckpoint: stageCheckpoint(cursor), streamRetractionsPending: (await countOutbox(client, spec.name, spec.chainId)) > 0 };
  },
  // Every published event about to go gets its retraction in the outbox, in the rollback's transaction.
  rewind: async (client, { schema, chainId, ancestor, eventTables }) => void (await recordRetractions(client, schema, chainId, ancestor, eventTables)),
  repair: (client, { schema, chainId, left, entered }) => recordRepair(client, schema, chainId, { left, entered }),
  metrics: (registry) => streamMetrics(registry),
} satisfies StageRuntime<StreamEnv>;
