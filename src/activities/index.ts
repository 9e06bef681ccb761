import { createActivityEnv, type ActivityDeps, type ActivityEnv } from './env';
import { toActivityFailure } from './failure';
import { discoverChildren } from './discover-children';
import { findCommonAncestor } from './find-common-ancestor';
import { getHead } from './get-head';
import { handleEvents } from './handle-events';
import { indexRange } from './index-range';
import { keepAlive } from './keep-alive';
import { prepareIndexer } from './prepare-indexer';
import { publishEvents } from './publish-events';
import { rebuildHandlers } from './rebuild-handlers';
import { recordVerification } from './record-verification';
import { rollbackTo } from './rollback-to';
import { saveCheckpoint } from './save-checkpoint';
import { syncTip } from './sync-tip';
import { verifyRange } from './verify-range';

export type { ActivityDeps };

/** The block range an activity input names, for log context. */
function rangeOf(input: unknown): { fromBlock?: number; toBlock?: number } {
  const i = input as { fromBlock?: number; toBlock?: number; checkpoint?: number } | undefined;
  if (i?.fromBlock !== undefined) return { fromBlock: i.fromBlock, toBlock: i.toBlock };
  if (i?.checkpoint !== undefined) return { fromBlock: i.checkpoint + 1 };
  return {};
}

/**
 * The activities, built from their dependencies (samples-typescript "activities-dependency-
 * injection"): the worker wires real ones, tests wire their own. Each body lives in its own file.
 */
export function createActivities(deps: ActivityDeps) {
  const env = createActivityEnv(deps);

  /** Every activity runs here: it heartbeats while alive, and its errors are redacted on their way into history. */
  function activity<I, O>(body: (env: ActivityEnv, input: I) => Promise<O>): (input: I) => Promise<O> {
    return async (input: I) => {
      try {
        return await keepAlive(() => body(env, input));
      } catch (error) {
        const failure = toActivityFailure(error, deps.redact);
        env.log().warn({ err: failure.message, ...rangeOf(input) }, 'activity failed');
        throw failure;
      }
    };
  }

  return {
    prepareIndexer: activity(prepareIndexer),
    getHead: activity(getHead),
    indexRange: activity(indexRange),
    syncTip: activity(syncTip),
    findCommonAncestor: activity(findCommonAncestor),
    rollbackTo: activity(rollbackTo),
    verifyRange: activity(verifyRange),
    recordVerification: activity(recordVerification),
    saveCheckpoint: activity(saveCheckpoint),
    handleEvents: activity(handleEvents),
    discoverChildren: activity(discoverChildren),
    rebuildHandlers: activity(rebuildHandlers),
    publishEvents: activity(publishEvents),
  };
}

export type IndexerActivities = ReturnType<typeof createActivities>;
