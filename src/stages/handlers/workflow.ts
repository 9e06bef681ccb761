import { ApplicationFailure, condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
import { RebuildFailedError } from '../../errors';
import { WORK_ATTEMPTS, activityOptions } from '../../workflows/support/activity-options';
import { Backoff, describeFailure } from '../../workflows/support/failure';
import { stageStep, type ScheduledActivities, type StageDefinition } from '../stage';
import type { handlersActivities } from './activities';
import { renderHandlers } from './render';
import { HandlersStage } from './state';
import type { HandlersCarried, HandlersPrepared, RebuildRequest, RebuildResult } from './types';

/** `indexer rebuild`: answers once derived tables are emptied and setup ran; the replay follows in the status. */
export const rebuildUpdate = defineUpdate<RebuildResult, [RebuildRequest]>('rebuild');

/**
 * The handlers stage (docs/handlers.md), beside ingest in the same workflow: whenever the stored
 * checkpoint is ahead of the handlers, one handleEvents activity at a time (batches inside it),
 * named by its blocks in the Web UI. A failing handler pauses only this stage.
 */
export const handlersStage: StageDefinition<HandlersStage, HandlersPrepared, 'handlers'> = {
  name: 'handlers',
  render: renderHandlers,
  configured: (spec) => spec.handlers !== undefined,
  create: (_spec, beforeStart, carried) => new HandlersStage(beforeStart, carried as HandlersCarried | undefined),
  prepared(stage, result) {
    if (result.handlersCheckpoint !== undefined) stage.checkpoint = result.handlersCheckpoint;
  },

  // An update: `indexer rebuild` waits until derived tables are emptied, then follows the replay in the status.
  messages(ctx, stage) {
    setHandler(
      rebuildUpdate,
      async ({ rebuildId }) => {
        stage.pendingRebuild = { rebuildId };
        stage.rebuildOutcome = null;
        await condition(() => stage.rebuildOutcome !== null);
        const outcome = stage.rebuildOutcome!;
        stage.rebuildOutcome = null;
        if (outcome.error) throw ApplicationFailure.nonRetryable(`rebuild failed: ${outcome.error}`, RebuildFailedError.type);
        return { fromBlock: stage.checkpoint + 1, toBlock: ctx.storedCheckpoint() ?? ctx.indexer.checkpoint };
      },
      {
        validator: (_request: RebuildRequest) => {
          const refusal = stage.rebuildRefusal();
          if (refusal) throw new Error(refusal);
        },
      },
    );
  },

  async run(ctx, stage) {
    const options = activityOptions('10 minutes', WORK_ATTEMPTS);
    const activities = proxyActivities<ScheduledActivities<ReturnType<typeof handlersActivities>>>(options);
    const backoff = new Backoff();
    for (;;) {
      await condition(() => stage.stopping || stage.pendingRebuild !== null || stage.wantsWork(ctx.storedCheckpoint(), ctx.indexer.paused));
      if (stage.stopping) return;
      if (stage.pendingRebuild) {
        try {
          const result = await activities.rebuildHandlers.executeWithOptions({ ...options, summary: 'rebuild handlers' }, [{ spec: ctx.ref, rebuildId: stage.pendingRebuild.rebuildId }]);
          stage.rebuilt(result.checkpoint);
          stage.rebuildOutcome = {};
        } catch (error) {
          stage.rebuildOutcome = { error: describeFailure(error).message };
        }
        stage.pendingRebuild = null;
        continue;
      }
      const upTo = ctx.storedCheckpoint()!;
      const epoch = stage.epoch;
      const head = ctx.indexer.head;
      await stageStep(
        stage,
        backoff,
        () => activities.handleEvents.executeWithOptions({ ...options, summary: `handle blocks ${stage.checkpoint + 1}-${upTo}` }, [{ spec: ctx.ref, toBlock: upTo, ...(head === null ? {} : { head }) }]),
        (result) => stage.recordResult(result, epoch, upTo, Date.now()),
      );
    }
  },
};
