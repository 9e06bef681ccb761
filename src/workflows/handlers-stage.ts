import { condition } from '@temporalio/workflow';
import { WORK_ATTEMPTS, activities, activityOptions } from './activity-options';
import { Backoff, describeFailure } from './failure';
import { stageStep } from './stage-step';
import type { IndexerContext } from './indexer-context';

const handleOptions = activityOptions('10 minutes', WORK_ATTEMPTS);

/**
 * The handlers stage, beside ingest in the same workflow: whenever the stored checkpoint is ahead
 * of the handlers, one handleEvents activity at a time (batches inside it), named by its blocks in
 * the Web UI. A failing handler pauses only this stage. Ends when asked (stop, continueAsNew,
 * done) once the activity in flight is back.
 */
export async function runHandlersStage(ctx: IndexerContext): Promise<void> {
  const { spec, state } = ctx;
  const stage = state.handlers!;
  const backoff = new Backoff();
  for (;;) {
    await condition(() => stage.stopping || stage.pendingRebuild !== null || stage.wantsWork(ctx.checkpoints.stored, state.paused));
    if (stage.stopping) return;
    if (stage.pendingRebuild) {
      try {
        const result = await activities.rebuildHandlers.executeWithOptions({ ...handleOptions, summary: 'rebuild handlers' }, [{ spec: ctx.ref, rebuildId: stage.pendingRebuild.rebuildId }]);
        stage.rebuilt(result.checkpoint);
        stage.rebuildOutcome = {};
      } catch (error) {
        stage.rebuildOutcome = { error: describeFailure(error).message };
      }
      stage.pendingRebuild = null;
      continue;
    }
    const upTo = ctx.checkpoints.stored!;
    const epoch = stage.epoch;
    await stageStep(
      stage,
      backoff,
      () => activities.handleEvents.executeWithOptions({ ...handleOptions, summary: `handle blocks ${stage.checkpoint + 1}-${upTo}` }, [{ spec: ctx.ref, toBlock: upTo, ...(state.head === null ? {} : { head: state.head }) }]),
      (result) => stage.recordResult(result, epoch, upTo, Date.now()),
    );
  }
}
