import { ApplicationFailure, allHandlersFinished, condition, continueAsNew, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { ResetFailedError } from '../errors';
import { INDEXER_MODE } from '../search-attributes';
import { specRef, type IndexerSpec } from '../spec';
import type { StageContext } from '../stages/stage';
import { activities } from './activities';
import { backfillTo } from './backfill';
import { discoverChildrenTo } from './discovery';
import { CheckpointSaver } from './checkpoint-saver';
import { historyTooLong, type IndexerContext } from './indexer-context';
import { IndexerState, type CarriedState } from './indexer-state';
import { pauseSignal, repairedSignal, resetUpdate, resumeSignal, statusQuery, stopSignal, verifyUpdate } from './messages';
import { persistently } from './persistently';
import { runReset, runRollback } from './run-rollback';
import { startReadIndexes } from './read-indexes';
import { followTip } from './tip';
import { runVerification, startScheduledVerification } from './verification';

export type { CarriedState };

export interface IndexerWorkflowInput {
  spec: IndexerSpec;
  /** `indexer start --from-block N`: (re)start indexing at N instead of the stored checkpoint. */
  fromBlock?: number;
  /** The server has the indexer's search attributes registered: keep IndexerMode current. */
  searchAttributes?: boolean;
  state?: CarriedState;
}

export interface IndexerWorkflowResult {
  checkpoint: number;
  logsIndexed: number;
  stopped: boolean;
}

/**
 * One indexer × chain: backfill as a sliding window of indexRange activities over a contiguous
 * watermark, then follow the head, rolling back reorgs and verifying on a schedule. This function
 * only wires messages and the loop to the state (indexer-state.ts), where the decisions live.
 */
export async function indexerWorkflow(input: IndexerWorkflowInput): Promise<IndexerWorkflowResult> {
  const { spec } = input;
  const state = new IndexerState(spec, Date.now(), input.state);
  const ctx: IndexerContext = { spec, ref: specRef(spec), state, checkpoints: new CheckpointSaver(spec, state) };
  const result = (stopped: boolean): IndexerWorkflowResult => ({ checkpoint: state.checkpoint, logsIndexed: state.logsIndexed, stopped });
  // What the downstream stages (stages/index.ts) get of this run.
  const stageContext: StageContext = {
    spec,
    ref: ctx.ref,
    indexer: state,
    storedCheckpoint: () => ctx.checkpoints.stored,
    probeHead: async () => state.noteHead(await activities.getHead({ spec: ctx.ref })),
  };

  setHandler(pauseSignal, () => void (state.paused = true));
  setHandler(resumeSignal, () => state.resume());
  setHandler(stopSignal, () => void (state.stopRequested = true));
  setHandler(repairedSignal, (repair) => state.recordRepair(repair));
  setHandler(statusQuery, () => state.status(workflowInfo(), Date.now()));
  setHandler(
    verifyUpdate,
    async (request) => {
      const { fromBlock, toBlock } = state.verifyBounds(request);
      return runVerification(ctx, fromBlock, toBlock);
    },
    { validator: (request) => throwIf(state.verifyRefusal(request)) },
  );
  // An update rather than a signal: `indexer reset` waits until the rollback is done.
  setHandler(
    resetUpdate,
    async ({ toBlock }) => {
      state.pendingReset = toBlock;
      state.resetOutcome = null;
      await condition(() => state.resetOutcome !== null);
      const outcome = state.resetOutcome!;
      state.resetOutcome = null;
      if (outcome.error) throw ApplicationFailure.nonRetryable(outcome.error, ResetFailedError.type);
      return outcome.result!;
    },
    { validator: ({ toBlock }) => throwIf(state.resetRefusal(toBlock)) },
  );

  // Each stage's own messages (`indexer rebuild` is the handlers stage's update).
  for (const { definition, state: stage } of state.stages) definition.messages?.(stageContext, stage);

  // The Web UI and `indexer list` filter on IndexerMode; an upsert is a history event, so only on change.
  let publishedMode: string | null = null;
  const publishMode = () => {
    const mode = state.paused ? 'paused' : state.mode;
    if (!input.searchAttributes || mode === publishedMode) return;
    upsertSearchAttributes([{ key: INDEXER_MODE, value: mode }]);
    publishedMode = mode;
  };

  if (input.state) {
    ctx.checkpoints.markSaved(input.state.checkpoint);
  } else {
    // Prepare: check the chain id, create tables, and learn where the stored data ends.
    const prepared = await persistently(state, () => activities.prepareIndexer({ spec }));
    if (!prepared) return result(true);
    state.logsIndexed = prepared.logsIndexed;
    state.watermark.reset(input.fromBlock !== undefined ? input.fromBlock - 1 : prepared.checkpoint);
    if (input.fromBlock !== undefined) await ctx.checkpoints.flush(true);
    ctx.checkpoints.markSaved(state.checkpoint);
    if (state.discovered !== null && prepared.discoveredThrough !== undefined) state.discovered = prepared.discoveredThrough;
    for (const { definition, state: stage } of state.stages) definition.prepared(stage, prepared);
    state.lastError = null;
  }

  // Downstream stages run beside ingest, each its own loop; they end (activity in flight back) when asked.
  const stageLoops = state.stages.map(({ definition, state: stage }) => definition.run(stageContext, stage));
  const endStages = async () => {
    for (const { state: stage } of state.stages) stage.stopping = true;
    for (const loop of stageLoops) await loop;
  };

  for (;;) {
    publishMode();
    const step = state.nextStep(historyTooLong());
    if (step === 'reset') {
      await runReset(ctx, state.pendingReset!);
      continue;
    }
    if (step === 'stop') break;
    if (step === 'wait-for-resume') {
      await ctx.checkpoints.flush(true); // `paused` stored for readers without Temporal
      await condition(() => state.pauseEnds);
      continue;
    }
    if (step === 'done') {
      state.mode = 'done';
      publishMode();
      await ctx.checkpoints.flush(true);
      startReadIndexes(ctx);
      // Done means every stage is done too (a failing handler holds it until fixed and resumed).
      await condition(() => (state.stagesCaughtUp && state.readIndexes !== 'building') || state.stopRequested);
      await endStages();
      return result(false);
    }
    if (step === 'continue-as-new') {
      await ctx.checkpoints.flush(true);
      await endStages();
      // Children end with this run: let a running verification (and index build) finish first.
      await condition(() => !state.verification.busy && state.readIndexes !== 'building' && allHandlersFinished());
      return continueAsNew<typeof indexerWorkflow>({ spec, state: state.carried(), searchAttributes: input.searchAttributes });
    }

    startScheduledVerification(ctx);

    if (step === 'catch-up') {
      // Far behind: backfill up to the safe head with a window of ranges in flight.
      const latest = await persistently(state, () => activities.getHead({ spec: ctx.ref }));
      if (!latest) continue;
      state.noteHead(latest);
      // An endpoint out of rotation, say: shown until the next range or tip result says otherwise.
      if (latest.notice) state.lastError = latest.notice;
      const target = state.targetFor(latest.safeHead);
      if (state.shouldBackfill(target)) {
        state.mode = 'backfill';
        if (!(await discoverChildrenTo(ctx, target))) continue;
        // Blocks this close to the head may still be reorganised: keep their whole hash chain.
        await backfillTo(ctx, target, latest.head - spec.tuning.maxReorgDepth);
        await ctx.checkpoints.flush(true);
        continue;
      }
      state.mode = 'realtime';
      await ctx.checkpoints.flush(true);
      publishMode();
      startReadIndexes(ctx);
    }

    // Near the head: one syncTip at a time, each checking the hash chain from the checkpoint on.
    const tip = await followTip(ctx);
    if (tip.reorgAt !== undefined) await runRollback(ctx, tip.reorgAt, 'reorg');
  }

  await ctx.checkpoints.flush(true);
  await endStages();
  return result(true);
}

/** Update validators reject by throwing. */
function throwIf(refusal: string | undefined): void {
  if (refusal) throw new Error(refusal);
}
