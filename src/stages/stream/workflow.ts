import { condition, proxyActivities } from '@temporalio/workflow';
import { WORK_ATTEMPTS, activityOptions } from '../../workflows/support/activity-options';
import { Backoff, describeFailure } from '../../workflows/support/failure';
import { stageStep, type ScheduledActivities, type StageDefinition } from '../stage';
import type { streamActivities } from './activities';
import { renderStream } from './render';
import { StreamStage } from './state';
import type { StreamCarried, StreamPrepared } from './types';

/**
 * The stream stage (docs/stream.md), beside ingest in the same workflow: whenever retractions are
 * owed or the bound (the stored checkpoint; for `safe` delivery at most the safe head) is ahead of
 * the stage, one publishEvents activity at a time, named by its blocks in the Web UI. NATS down is
 * retried with backoff and shown in `status.stream.lastError`; a fault retrying cannot fix pauses
 * only this stage.
 */
export const streamStage: StageDefinition<StreamStage, StreamPrepared, 'stream'> = {
  name: 'stream',
  render: renderStream,
  configured: (spec) => spec.stream !== undefined,
  create: (spec, beforeStart, carried) => new StreamStage(spec.stream!, beforeStart, carried as StreamCarried | undefined),
  prepared(stage, result) {
    if (result.streamCheckpoint === undefined) return;
    stage.checkpoint = result.streamCheckpoint;
    // A rollback in an earlier run may have left retractions owed.
    stage.retractionsPending = result.streamRetractionsPending ?? false;
  },

  async run(ctx, stage) {
    const { indexer } = ctx;
    const options = activityOptions('10 minutes', WORK_ATTEMPTS);
    const activities = proxyActivities<ScheduledActivities<ReturnType<typeof streamActivities>>>(options);
    const backoff = new Backoff();
    const bound = () => stage.bound(ctx.storedCheckpoint(), indexer.safeHead);
    // Done with `safe` delivery: ingest no longer asks for the head, so the stage does until the safe head passes the end.
    const waitingForSafeHead = () => indexer.mode === 'done' && stage.caughtUpWith(bound()) && !stage.caughtUpWith(indexer.checkpoint) && !stage.paused;
    for (;;) {
      await condition(() => stage.stopping || stage.wantsWork(bound(), indexer.paused) || waitingForSafeHead());
      if (stage.stopping) return;
      if (!stage.wantsWork(bound(), indexer.paused)) {
        try {
          await ctx.probeHead();
        } catch (error) {
          stage.recordFailure(describeFailure(error).message, false);
        }
        await condition(() => stage.stopping, ctx.spec.tuning.pollIntervalMs);
        continue;
      }
      const upTo = bound()!;
      const epoch = stage.epoch;
      const what = stage.retractionsPending ? `retractions, then blocks ${stage.checkpoint + 1}-${upTo}` : `blocks ${stage.checkpoint + 1}-${upTo}`;
      await stageStep(
        stage,
        backoff,
        () => activities.publishEvents.executeWithOptions({ ...options, summary: `publish ${what}` }, [{ spec: ctx.ref, toBlock: upTo }]),
        (result) => stage.recordResult(result, epoch, upTo, Date.now()),
      );
    }
  },
};
