import { executeChild } from '@temporalio/workflow';
import { describeFailure } from './support/failure';
import type { IndexerContext } from './indexer-context';
import type { VerifyResult } from './messages';
import { verifyWorkflow } from './verify';

/** Runs one verification child (scheduled, or `indexer verify`) and shows its outcome in the status. */
export async function runVerification(ctx: IndexerContext, fromBlock: number, toBlock: number, maxChunks?: number): Promise<VerifyResult> {
  const { spec, state } = ctx;
  const n = state.verification.nextRunNumber();
  const result = await executeChild(verifyWorkflow, {
    workflowId: `verify:${spec.name}:${spec.chainId}:${n}`,
    staticSummary: `verify blocks ${fromBlock}-${toBlock}`,
    args: [{ spec: ctx.ref, fromBlock, toBlock, chunkSize: spec.tuning.maxBlockRange, maxChunks }],
  });
  const { mismatches, repaired, added, removed, changed } = result;
  state.lastVerification = { at: result.startedAt, fromBlock: result.fromBlock, toBlock: result.toBlock, mismatches, repaired, added, removed, changed };
  return result;
}

/** Starts the scheduled verification when it is due; it runs beside indexing, not in its way. */
export function startScheduledVerification(ctx: IndexerContext): void {
  const { state } = ctx;
  const due = state.verification.due(Date.now(), state.checkpoint, state.head);
  if (!due) return;
  runVerification(ctx, due.fromBlock, due.toBlock, due.maxChunks).then(
    (result) => state.verification.finished(result),
    (error: unknown) => {
      state.lastError = `verification failed: ${describeFailure(error).message}`;
      state.verification.finished(undefined);
    },
  );
}
