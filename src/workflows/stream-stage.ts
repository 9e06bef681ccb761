import { condition } from '@temporalio/workflow';
import { WORK_ATTEMPTS, activities, activityOptions } from './activity-options';
import { Backoff, describeFailure } from './failure';
import { stageStep } from './stage-step';
import type { IndexerContext } from './indexer-context';

const publishOptions = activityOptions('10 minutes', WORK_ATTEMPTS);

/**
 * The stream stage, beside ingest in the same workflow: whenever retractions are owed or the bound
 * (the stored checkpoint; for `safe` delivery at most the safe head) is ahead of the stage, one
 * publishEvents activity at a time, named by its blocks in the Web UI. NATS down is retried with
 * backoff and shown in `status.stream.lastError`; a fault retrying cannot fix pauses only this
 * stage. Ends when asked (stop, continueAsNew, done) once the activity in flight is back.
 */
export async function runStreamStage(ctx: IndexerContext): Promise<void> {
  const { spec, state } = ctx;
  const stage = state.stream!;
  const backoff = new Backoff();
  const bound = () => stage.bound(ctx.checkpoints.stored, state.safeHead);
  // Done with `safe` delivery: ingest no longer asks for the head, so the stage does until the safe head passes the end.
  const waitingForSafeHead = () => state.mode === 'done' && stage.caughtUpWith(bound()) && !stage.caughtUpWith(state.checkpoint) && !stage.paused;
  for (;;) {
    await condition(() => stage.stopping || stage.wantsWork(bound(), state.paused) || waitingForSafeHead());
    if (stage.stopping) return;
    if (!stage.wantsWork(bound(), state.paused)) {
      try {
        state.noteHead(await activities.getHead({ spec: ctx.ref }));
      } catch (error) {
        stage.recordFailure(describeFailure(error).message, false);
      }
      await condition(() => stage.stopping, spec.tuning.pollIntervalMs);
      continue;
    }
    const upTo = bound()!;
    const epoch = stage.epoch;
    const what = stage.retractionsPending ? `retractions, then blocks ${stage.checkpoint + 1}-${upTo}` : `blocks ${stage.checkpoint + 1}-${upTo}`;
    await stageStep(
      stage,
      backoff,
      () => activities.publishEvents.executeWithOptions({ ...publishOptions, summary: `publish ${what}` }, [{ spec: ctx.ref, toBlock: upTo }]),
      (result) => stage.recordResult(result, epoch, upTo, Date.now()),
    );
  }
}
