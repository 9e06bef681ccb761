import type { WithSpecRef } from '../spec';
import type { ScheduledActivities } from '../stages/stage';
import { stageActivityBodies, type StageActivityBodies, type StageEnv } from '../stages/runtimes';
import { createActivityEnv, type ActivityDeps, type ActivityEnv } from './env';
import { toActivityFailure } from './failure';
import { createReadIndexes } from './create-read-indexes';
import { discoverChildren } from './discover-children';
import { findCommonAncestor } from './find-common-ancestor';
import { getHead } from './get-head';
import { indexRange } from './index-range';
import { keepAlive } from './keep-alive';
import { prepareIndexer } from './prepare-indexer';
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
  // A compile error here means a stage needs something of the worker that its env does not give.
  const stageEnv: StageEnv = env;
  void stageEnv;

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

  // Each registered stage's own activities (stages/runtimes.ts), run the same way.
  const stageActivities = Object.fromEntries(Object.entries(stageActivityBodies()).map(([name, body]) => [name, activity(body as never)])) as ScheduledActivities<StageActivityBodies>;

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
    discoverChildren: activity(discoverChildren),
    createReadIndexes: activity(createReadIndexes),
    ...stageActivities,
  };
}

export type IndexerActivities = ReturnType<typeof createActivities>;
