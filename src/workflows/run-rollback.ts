import { condition, executeChild } from '@temporalio/workflow';
import type { IndexerContext } from './indexer-context';
import type { ResetResult } from './messages';
import { reorgRollbackWorkflow } from './reorg-rollback';

/**
 * Runs reorgRollbackWorkflow as a child: to the common ancestor (reorg) or to `toBlock` (reset).
 * The status says rolling-back meanwhile; a rollback that cannot be done (a reorg deeper than
 * maxReorgDepth) pauses the indexer, anything else is tried again by the loop after a pause.
 */
export async function runRollback(ctx: IndexerContext, detectedBlock: number, reason: 'reorg' | 'reset', toBlock?: number): Promise<ResetResult | undefined> {
  const { spec, state } = ctx;
  const previousMode = state.mode;
  state.mode = 'rolling-back';
  try {
    const result = await executeChild(reorgRollbackWorkflow, {
      workflowId: `reorg:${spec.name}:${spec.chainId}:${reason === 'reset' ? toBlock : detectedBlock}`,
      staticSummary: reason === 'reset' ? `reset to block ${toBlock}` : `reorg detected at block ${detectedBlock}`,
      args: [{ spec: ctx.ref, detectedBlock, reason, toBlock }],
    });
    ctx.checkpoints.markSaved(result.ancestor);
    return state.recordRollback(result, reason, detectedBlock, new Date().toISOString());
  } catch (error) {
    const failure = state.recordFailure(error);
    if (!failure.fatal) await condition(() => state.stopRequested, 5_000);
    return undefined;
  } finally {
    state.mode = previousMode === 'rolling-back' ? 'realtime' : previousMode;
  }
}

/** `indexer reset`: the rollback, then the outcome the waiting update handler answers with. */
export async function runReset(ctx: IndexerContext, toBlock: number): Promise<void> {
  const { state } = ctx;
  const outcome = await runRollback(ctx, state.checkpoint, 'reset', toBlock);
  if (outcome) {
    // The reset is the fix for whatever paused the indexer (a reorg too deep, say).
    state.paused = false;
    state.lastError = null;
    state.mode = 'backfill';
    state.resetOutcome = { result: outcome };
  } else {
    state.resetOutcome = { error: `reset to ${toBlock} failed: ${state.lastError ?? 'unknown error'}` };
  }
  state.pendingReset = null;
}
