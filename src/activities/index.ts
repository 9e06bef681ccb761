import type { IndexerSpec, SpecOrRef } from '../spec';
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

/** An activity input as it travels: the spec may be a reference to it (spec.ts, SpecRef). */
export type WithSpecRef<I> = I extends { spec: IndexerSpec } ? Omit<I, 'spec'> & { spec: SpecOrRef } : I;

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

  /**
   * Every activity runs here: it heartbeats while alive, its errors are redacted on their way into
   * history, and a spec given by reference (the workflow's SpecRef) is looked up for the body.
   */
  function activity<I, O>(body: (env: ActivityEnv, input: I) => Promise<O>): (input: WithSpecRef<I>) => Promise<O> {
    return async (input: WithSpecRef<I>) => {
      try {
        return await keepAlive(async () => body(env, (await env.resolveSpec(input)) as I));
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
