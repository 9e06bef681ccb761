import { activities } from './activities';
import { WORK_ATTEMPTS, activityOptions } from './support/activity-options';
import type { IndexerContext } from './indexer-context';
import { persistently } from './persistently';

// syncTip waits for a new block itself (up to TIP_WAIT_MS), heartbeating while it does.
const TIP_WAIT_MS = 5_000;
const tipOptions = activityOptions('2 minutes', WORK_ATTEMPTS);

/** What following the tip found: new blocks stored, nothing new, or a fork to roll back. */
export type TipOutcome = { reorgAt: number } | { reorgAt?: undefined };

/**
 * One step near the head: a syncTip that indexes the blocks after the checkpoint, checking that
 * they extend the stored hash chain. Returns the block where a reorg was detected, if any. Falls
 * back to backfill when the indexer is far behind (a long pause, a burst of blocks).
 */
export async function followTip(ctx: IndexerContext): Promise<TipOutcome> {
  const { spec, state } = ctx;
  const checkpoint = state.checkpoint;
  const tip = await persistently(state, () =>
    activities.syncTip.executeWithOptions({ ...tipOptions, summary: `tip after block ${checkpoint}` }, [
      { spec: ctx.ref, checkpoint, maxBlocks: state.rangeSize, waitMs: TIP_WAIT_MS },
    ]),
  );
  if (!tip) return {};
  state.noteHead(tip);
  state.lastError = tip.notice ?? null;
  if (tip.reorg) return { reorgAt: tip.reorg.detectedBlock };
  if (tip.toBlock > checkpoint) {
    if (!tip.checkpointAdvanced) {
      // The stored checkpoint is not where this run left it; write ours and go again.
      ctx.checkpoints.markSaved(null);
      await ctx.checkpoints.flush(true);
      return {};
    }
    state.recordSuccess(tip, Date.now());
    ctx.checkpoints.markSaved(state.checkpoint);
    // The tip read the factories' events of its blocks too.
    if (state.discovered !== null) state.discovered = Math.max(state.discovered, tip.toBlock);
  }
  if (state.fellBehind(state.targetFor(tip.safeHead))) state.mode = 'backfill';
  // No idle wait here: the next syncTip waits for a new block itself.
  return {};
}
