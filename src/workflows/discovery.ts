import { activities } from './activities';
import { WORK_ATTEMPTS, activityOptions } from './support/activity-options';
import type { IndexerContext } from './indexer-context';
import { persistently } from './persistently';

const discoverOptions = activityOptions('10 minutes', WORK_ATTEMPTS);

/**
 * Factories: their events are read up to `target` before any range of their children is indexed
 * there, so no range is committed without the children it needs (children created inside a range
 * in flight included). Cheap: only the factories' addresses and events are asked for. False when
 * stopped, paused or reset meanwhile.
 */
export async function discoverChildrenTo(ctx: IndexerContext, target: number): Promise<boolean> {
  const { spec, state } = ctx;
  while (state.discovered !== null && state.discovered < target) {
    const fromBlock = state.discovered + 1;
    const result = await persistently(state, () =>
      activities.discoverChildren.executeWithOptions({ ...discoverOptions, summary: `discover children in blocks ${fromBlock}-${target}` }, [{ spec: ctx.ref, fromBlock, toBlock: target }]),
    );
    if (!result) return false;
    state.discovered = result.through;
  }
  return true;
}
