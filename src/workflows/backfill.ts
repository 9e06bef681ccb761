import { condition } from '@temporalio/workflow';
import type { IndexRangeResult } from '../activities/types';
import { activities } from './activities';
import { WORK_ATTEMPTS, activityOptions } from './support/activity-options';
import { BackfillWindow, type BlockRange } from './backfill-window';
import { Backoff } from './support/failure';
import { historyTooLong, type IndexerContext } from './indexer-context';

const rangeOptions = activityOptions('10 minutes', WORK_ATTEMPTS);

/**
 * Backfills [checkpoint + 1, target] with up to maxInFlight indexRange activities at once, the
 * checkpoint following the contiguous prefix of finished ranges. Returns when caught up, or, with
 * nothing in flight, when paused, stopped, reset or history asks for continueAsNew: ranges that
 * failed stay above the watermark, so a later window starts again from the checkpoint.
 */
export async function backfillTo(ctx: IndexerContext, target: number, trackHashesFrom: number): Promise<void> {
  const { spec, state } = ctx;
  const window = new BackfillWindow(state.checkpoint + 1, target, spec.tuning.maxInFlight);
  const settled: Array<{ range: BlockRange; result?: IndexRangeResult; error?: unknown }> = [];
  const backoff = new Backoff();

  const start = (range: BlockRange) => {
    const [fromBlock, toBlock] = range;
    // The summary names the blocks, so the Web UI's event list reads without opening payloads.
    activities.indexRange.executeWithOptions({ ...rangeOptions, summary: `blocks ${fromBlock}-${toBlock}` }, [{ spec: ctx.ref, fromBlock, toBlock, trackHashesFrom }]).then(
      (result) => settled.push({ range, result }),
      (error: unknown) => settled.push({ range, error }),
    );
  };
  // One predicate for "may start now": the wait below must not wake for work the loop would then
  // refuse to start (it would spin without yielding, e.g. once history asks for continueAsNew).
  const mayStartNow = () => !state.interrupted && !historyTooLong();

  for (;;) {
    const mayStart = mayStartNow();
    if (mayStart) window.take(Date.now(), state.rangeSize).forEach(start);
    if (window.idle && (window.exhausted || !mayStart)) return;
    const wakeAt = window.wakeAt;
    await condition(
      () => settled.length > 0 || (window.idle && state.interrupted) || (mayStartNow() && window.canGrow),
      wakeAt === undefined ? undefined : Math.max(1, wakeAt - Date.now()),
    );
    while (settled.length > 0) {
      const { range, result, error } = settled.shift()!;
      if (result) {
        state.recordSuccess(result, Date.now());
        window.settle(range, { ok: true });
        backoff.reset();
      } else {
        const failure = state.recordFailure(error);
        window.settle(range, { ok: false, retryAt: Date.now() + (failure.fatal ? 0 : backoff.next()) });
      }
    }
    await ctx.checkpoints.flush(false);
    if (window.idle && window.hasRetries && state.interrupted) return;
  }
}
