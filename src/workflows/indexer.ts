import {
  ApplicationFailure,
  TemporalFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { IndexerActivities } from '../activities';
import type { IndexRangeResult } from '../activities/types';
import { NON_RETRYABLE_ERROR_TYPES } from '../errors';
import { activityOptions } from './activity-options';
import { INDEXER_MODE } from '../search-attributes';
import type { IndexerSpec } from '../spec';
import {
  pauseSignal,
  resetUpdate,
  resumeSignal,
  statusQuery,
  stopSignal,
  type IndexerMode,
  type IndexerStatus,
  type ResetResult,
  verifyUpdate,
} from './messages';
import { reorgRollbackWorkflow } from './reorg-rollback';
import { verifyWorkflow, type VerifyResult } from './verify';
import { INITIAL_RANGE_SIZE, Watermark, nextRangeSize } from './watermark';

/** State handed from one run to the next by continueAsNew. */
export interface CarriedState {
  checkpoint: number;
  logsIndexed: number;
  paused: boolean;
  lastError: string | null;
  rangeSize: number;
  reorgs: number;
  lastReorg: IndexerStatus['lastReorg'];
  lastVerification: IndexerStatus['lastVerification'];
  /** Verification runs so far (numbers the child ids) and where the next scheduled one resumes. */
  verifyRuns: number;
  verifyCursor: number | null;
  nextVerifyAt: number | null;
}

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

// Each activity call retries transient faults a few times with backoff; past that the workflow
// itself records lastError and keeps retrying, so a long outage is visible in the status.
const ACTIVITY_ATTEMPTS = 4;
const rangeOptions = activityOptions('10 minutes', ACTIVITY_ATTEMPTS);
const { indexRange } = proxyActivities<IndexerActivities>(rangeOptions);

/** Activity summaries name the block range, so the Web UI's event list reads without opening payloads. */
const withSummary = (summary: string): ActivityOptions => ({ ...rangeOptions, summary });

const shortOptions = activityOptions('1 minute', ACTIVITY_ATTEMPTS);
// syncTip waits for new blocks itself (up to TIP_WAIT_MS), heartbeating while it does.
const TIP_WAIT_MS = 5_000;
const tipOptions = activityOptions('2 minutes', ACTIVITY_ATTEMPTS);
const { prepareIndexer, getHead, saveCheckpoint, syncTip } = proxyActivities<IndexerActivities>(shortOptions);

const HISTORY_LIMIT = 5_000;
const CHECKPOINT_SAVE_INTERVAL_MS = 2_000;
const RATE_WINDOW_MS = 30_000;

interface Failure {
  message: string;
  fatal: boolean;
}

/** The innermost failure (activity → child workflow → activity …) is the one that says what went wrong. */
function describeFailure(error: unknown): Failure {
  let cause = error;
  while (cause instanceof TemporalFailure && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) {
    const fatal = cause.nonRetryable || (NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(cause.type ?? '');
    return { message: cause.message, fatal };
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return { message, fatal: false };
}

/**
 * One indexer × chain: backfill as a sliding window of indexRange activities over a contiguous
 * watermark, then follow the head. Errors retries cannot fix pause it with lastError set.
 */
export async function indexerWorkflow(input: IndexerWorkflowInput): Promise<IndexerWorkflowResult> {
  const { spec } = input;
  const tuning = spec.tuning;
  const info = workflowInfo();
  const startBlock = Math.min(...spec.contracts.map((c) => c.startBlock));
  const endBlock = spec.contracts.every((c) => c.endBlock !== undefined) ? Math.max(...spec.contracts.map((c) => c.endBlock!)) : null;

  const carried = input.state;
  let paused = carried?.paused ?? false;
  let stopRequested = false;
  let lastError: string | null = carried?.lastError ?? null;
  let logsIndexed = carried?.logsIndexed ?? 0;
  let rangeSize = carried?.rangeSize ?? Math.min(tuning.maxBlockRange, INITIAL_RANGE_SIZE);
  let head: number | null = null;
  let safeHead: number | null = null;
  let mode: IndexerMode = 'backfill';
  let reorgs = carried?.reorgs ?? 0;
  let lastReorg = carried?.lastReorg ?? null;
  let lastVerification = carried?.lastVerification ?? null;
  let verifyRuns = carried?.verifyRuns ?? 0;
  let verifyCursor = carried?.verifyCursor ?? null;
  const verifyIntervalMs = spec.verify?.intervalMs;
  let nextVerifyAt: number | null = carried?.nextVerifyAt ?? (verifyIntervalMs ? Date.now() + verifyIntervalMs : null);
  let scheduledVerifyRunning = false;
  // `indexer reset`: the block to roll back to, and the outcome its update handler waits for.
  let pendingReset: number | null = null;
  let resetOutcome: { result?: ResetResult; error?: string } | null = null;
  const watermark = new Watermark(carried?.checkpoint ?? startBlock - 1);
  const recent: Array<{ at: number; blocks: number; logs: number }> = [];
  let rpcHealth: IndexerStatus['rpc'] = [];
  const noteRpc = (result: { rpc?: IndexerStatus['rpc'] }) => {
    if (result.rpc) rpcHealth = result.rpc;
  };

  setHandler(pauseSignal, () => {
    paused = true;
  });
  setHandler(resumeSignal, () => {
    paused = false;
  });
  setHandler(stopSignal, () => {
    stopRequested = true;
  });
  /** Runs one verification child and records its outcome in the status. */
  async function runVerification(fromBlock: number, toBlock: number, maxChunks?: number): Promise<VerifyResult> {
    verifyRuns += 1;
    const result = await executeChild(verifyWorkflow, {
      workflowId: `verify:${spec.name}:${spec.chainId}:${verifyRuns}`,
      staticSummary: `verify blocks ${fromBlock}-${toBlock}`,
      args: [{ spec, fromBlock, toBlock, chunkSize: tuning.maxBlockRange, maxChunks }],
    });
    lastVerification = { at: result.startedAt, fromBlock: result.fromBlock, toBlock: result.toBlock, mismatches: result.mismatches, repaired: result.repaired };
    return result;
  }

  setHandler(
    verifyUpdate,
    async ({ fromBlock, toBlock }) => runVerification(fromBlock ?? startBlock, Math.min(toBlock ?? watermark.checkpoint, watermark.checkpoint)),
    {
      validator: ({ fromBlock, toBlock }) => {
        const from = fromBlock ?? startBlock;
        const to = Math.min(toBlock ?? watermark.checkpoint, watermark.checkpoint);
        if (!Number.isInteger(from) || from < 0) throw new Error('--from must be a block number');
        if (to < from) throw new Error(`nothing indexed in ${from}-${toBlock ?? 'checkpoint'} to verify (checkpoint ${watermark.checkpoint})`);
      },
    },
  );

  /**
   * Scheduled verification: every verify.interval, a bounded run over finalized blocks (deeper than
   * maxReorgDepth below the head), resuming below where the last run stopped and wrapping to the top.
   */
  function maybeStartScheduledVerification(): void {
    if (!verifyIntervalMs || nextVerifyAt === null || scheduledVerifyRunning || Date.now() < nextVerifyAt) return;
    const finalized = Math.min(watermark.checkpoint, (head ?? watermark.checkpoint) - tuning.maxReorgDepth);
    nextVerifyAt = Date.now() + verifyIntervalMs;
    if (finalized < startBlock) return;
    const top = verifyCursor !== null && verifyCursor <= finalized ? verifyCursor : finalized;
    scheduledVerifyRunning = true;
    runVerification(startBlock, top, spec.verify?.maxChunksPerRun ?? 50).then(
      (result) => {
        verifyCursor = result.fromBlock - 1 >= startBlock ? result.fromBlock - 1 : null;
        scheduledVerifyRunning = false;
      },
      (error: unknown) => {
        lastError = `verification failed: ${describeFailure(error).message}`;
        scheduledVerifyRunning = false;
      },
    );
  }

  setHandler(
    resetUpdate,
    async ({ toBlock }) => {
      pendingReset = toBlock;
      resetOutcome = null;
      await condition(() => resetOutcome !== null);
      const outcome = resetOutcome!;
      resetOutcome = null;
      if (outcome.error) throw ApplicationFailure.nonRetryable(outcome.error, 'ResetFailed');
      return outcome.result!;
    },
    {
      validator: ({ toBlock }) => {
        if (!Number.isInteger(toBlock) || toBlock < startBlock - 1) throw new Error(`--to-block must be a block number ≥ ${startBlock - 1}`);
        if (toBlock > watermark.checkpoint) throw new Error(`--to-block ${toBlock} is above the checkpoint (${watermark.checkpoint}): nothing to roll back`);
        if (pendingReset !== null) throw new Error('a reset is already in progress');
      },
    },
  );
  setHandler(statusQuery, (): IndexerStatus => {
    const now = Date.now();
    const window = recent.filter((r) => now - r.at <= RATE_WINDOW_MS);
    const seconds = window.length > 0 ? Math.max(1, (now - window[0]!.at) / 1000) : 1;
    return {
      name: spec.name,
      chainId: spec.chainId,
      workflowId: info.workflowId,
      runId: info.runId,
      mode: paused ? 'paused' : mode,
      paused,
      checkpoint: watermark.checkpoint,
      head,
      safeHead,
      lag: safeHead === null ? null : Math.max(0, safeHead - watermark.checkpoint),
      blocksPerSecond: round(window.reduce((s, r) => s + r.blocks, 0) / seconds),
      logsPerSecond: round(window.reduce((s, r) => s + r.logs, 0) / seconds),
      logsIndexed,
      reorgs,
      lastReorg,
      lastVerification,
      lastError,
      rpc: rpcHealth,
      startBlock,
      endBlock,
    };
  });

  /**
   * Runs an activity until it succeeds. Transient failures (after the activity's own retries)
   * set lastError and back off; fatal ones pause the indexer until `resume`. Undefined on stop.
   */
  async function persistently<T>(what: () => Promise<T>, options: { bookkeeping?: boolean } = {}): Promise<T | undefined> {
    let backoffMs = 1_000;
    for (;;) {
      // Bookkeeping (saving the checkpoint) goes on while paused or stopping; new work does not.
      if (!options.bookkeeping && stopRequested) return undefined;
      if (!options.bookkeeping && paused) {
        await condition(() => !paused || stopRequested || pendingReset !== null);
        if (pendingReset !== null) return undefined;
        continue;
      }
      try {
        return await what();
      } catch (error) {
        const failure = describeFailure(error);
        lastError = failure.message;
        if (failure.fatal && !options.bookkeeping) paused = true;
        else {
          await condition(() => !options.bookkeeping && stopRequested, backoffMs);
          backoffMs = Math.min(backoffMs * 2, 60_000);
        }
      }
    }
  }

  function recordSuccess(result: Pick<IndexRangeResult, 'fromBlock' | 'toBlock' | 'logs' | 'durationMs'> & Partial<IndexRangeResult>): void {
    logsIndexed += result.logs;
    lastError = result.notice ?? null; // endpoints that misbehaved and were overruled stay visible
    noteRpc(result);
    const blocks = result.toBlock - result.fromBlock + 1;
    recent.push({ at: Date.now(), blocks, logs: result.logs });
    while (recent.length > 0 && Date.now() - recent[0]!.at > RATE_WINDOW_MS) recent.shift();
    rangeSize = nextRangeSize(rangeSize, { splits: 0, ...result, blocks }, tuning.maxBlockRange);
  }

  let savedCheckpoint: number | null = null;
  let lastSaveAt = 0;
  async function flushCheckpoint(force: boolean): Promise<void> {
    if (savedCheckpoint === watermark.checkpoint) return;
    if (!force && Date.now() - lastSaveAt < CHECKPOINT_SAVE_INTERVAL_MS) return;
    const block = watermark.checkpoint;
    await persistently(() => saveCheckpoint({ name: spec.name, chainId: spec.chainId, block }), { bookkeeping: true });
    savedCheckpoint = block;
    lastSaveAt = Date.now();
  }

  const historyTooLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_LIMIT;

  /**
   * Backfill [checkpoint + 1, target] with up to maxInFlight ranges at once. Returns when caught
   * up, or, with nothing in flight, when paused, stopped or history asks for continueAsNew.
   */
  async function backfillTo(target: number, trackHashesFrom: number): Promise<void> {
    const inFlight = new Set<number>();
    const done: Array<{ range: [number, number]; result?: IndexRangeResult; error?: unknown }> = [];
    const retryQueue: Array<{ range: [number, number]; notBefore: number }> = [];
    let nextFrom = watermark.checkpoint + 1;
    let backoffMs = 1_000;

    const schedule = (range: [number, number]) => {
      inFlight.add(range[0]);
      indexRange.executeWithOptions(withSummary(`blocks ${range[0]}-${range[1]}`), [{ spec, fromBlock: range[0], toBlock: range[1], trackHashesFrom }]).then(
        (result) => done.push({ range, result }),
        (error: unknown) => done.push({ range, error }),
      );
    };

    // One predicate for "may schedule now": the wait below must not wake for work the loop will
    // then refuse to start (that would spin without yielding, e.g. once history asks for continueAsNew).
    const mayStartNow = () => !paused && !stopRequested && pendingReset === null && !historyTooLong();
    for (;;) {
      const mayStart = mayStartNow();
      const now = Date.now();
      while (mayStart && inFlight.size < tuning.maxInFlight) {
        const due = retryQueue.findIndex((r) => r.notBefore <= now);
        if (due >= 0) {
          schedule(retryQueue.splice(due, 1)[0]!.range);
        } else if (nextFrom <= target) {
          const to = Math.min(nextFrom + rangeSize - 1, target);
          schedule([nextFrom, to]);
          nextFrom = to + 1;
        } else break;
      }
      if (inFlight.size === 0) {
        if (nextFrom > target && retryQueue.length === 0) return;
        if (!mayStart) return;
      }
      const wakeAt = retryQueue.length > 0 ? Math.min(...retryQueue.map((r) => r.notBefore)) : undefined;
      const canScheduleMore = () => mayStartNow() && inFlight.size < tuning.maxInFlight && nextFrom <= target;
      await condition(
        () => done.length > 0 || (inFlight.size === 0 && (paused || stopRequested || pendingReset !== null)) || canScheduleMore(),
        wakeAt === undefined ? undefined : Math.max(1, wakeAt - Date.now()),
      );
      while (done.length > 0) {
        const { range, result, error } = done.shift()!;
        inFlight.delete(range[0]);
        if (result) {
          recordSuccess(result);
          watermark.complete(range[0], range[1]);
          backoffMs = 1_000;
        } else {
          const failure = describeFailure(error);
          lastError = failure.message;
          if (failure.fatal) paused = true;
          retryQueue.push({ range, notBefore: Date.now() + (failure.fatal ? 0 : backoffMs) });
          if (!failure.fatal) backoffMs = Math.min(backoffMs * 2, 60_000);
        }
      }
      await flushCheckpoint(false);
      if (inFlight.size === 0 && retryQueue.length > 0 && (paused || stopRequested || pendingReset !== null)) {
        // Ranges that failed stay below nextFrom; the watermark has not passed them, so a later
        // window (after resume, or in the next run) starts again from the checkpoint.
        return;
      }
    }
  }

  // Prepare: check the chain id, create tables, and learn where the stored data ends.
  if (!carried) {
    mode = 'backfill';
    const prepared = await persistently(() => prepareIndexer({ spec }));
    if (!prepared) return { checkpoint: watermark.checkpoint, logsIndexed, stopped: true };
    logsIndexed = prepared.logsIndexed;
    watermark.reset(input.fromBlock !== undefined ? input.fromBlock - 1 : prepared.checkpoint);
    if (input.fromBlock !== undefined) await flushCheckpoint(true);
    savedCheckpoint = watermark.checkpoint;
    lastError = null;
  } else {
    savedCheckpoint = carried.checkpoint;
  }

  /**
   * Runs reorgRollbackWorkflow as a child: to the common ancestor (reorg) or to `toBlock` (reset).
   * While it runs the status says rolling-back; a reorg too deep to roll back pauses the indexer.
   */
  async function rollBack(detectedBlock: number, reason: 'reorg' | 'reset', toBlock?: number): Promise<ResetResult | undefined> {
    const previousMode = mode;
    mode = 'rolling-back';
    try {
      const result = await executeChild(reorgRollbackWorkflow, {
        workflowId: `reorg:${spec.name}:${spec.chainId}:${reason === 'reset' ? toBlock : detectedBlock}`,
        staticSummary: reason === 'reset' ? `reset to block ${toBlock}` : `reorg detected at block ${detectedBlock}`,
        args: [{ spec, detectedBlock, reason, toBlock }],
      });
      watermark.reset(result.ancestor);
      savedCheckpoint = result.ancestor;
      logsIndexed = Math.max(0, logsIndexed - result.rowsDeleted);
      if (reason === 'reorg') {
        reorgs += 1;
        lastReorg = { at: new Date().toISOString(), block: detectedBlock, depth: result.depth, ancestor: result.ancestor };
      }
      lastError = null;
      return { checkpoint: result.ancestor, rowsDeleted: result.rowsDeleted };
    } catch (error) {
      const failure = describeFailure(error);
      lastError = failure.message;
      if (failure.fatal) paused = true;
      else await condition(() => stopRequested, 5_000);
      return undefined;
    } finally {
      mode = previousMode === 'rolling-back' ? 'realtime' : previousMode;
    }
  }

  async function handleReset(toBlock: number): Promise<void> {
    const outcome = await rollBack(watermark.checkpoint, 'reset', toBlock);
    if (outcome) {
      // The reset is the fix for whatever paused the indexer (a reorg too deep, say).
      paused = false;
      lastError = null;
      mode = 'backfill';
      resetOutcome = { result: outcome };
    } else {
      resetOutcome = { error: `reset to ${toBlock} failed: ${lastError ?? 'unknown error'}` };
    }
    pendingReset = null;
  }

  // The Web UI and `indexer list` filter on IndexerMode; an upsert is a history event, so only on change.
  let publishedMode: string | null = null;
  function publishMode(): void {
    const current = paused ? 'paused' : mode;
    if (!input.searchAttributes || current === publishedMode) return;
    upsertSearchAttributes([{ key: INDEXER_MODE, value: current }]);
    publishedMode = current;
  }

  for (;;) {
    publishMode();
    if (pendingReset !== null) {
      await handleReset(pendingReset);
      continue;
    }
    if (stopRequested) break;
    if (paused) {
      await condition(() => !paused || stopRequested || pendingReset !== null);
      continue;
    }
    if (endBlock !== null && watermark.checkpoint >= endBlock) {
      mode = 'done';
      publishMode();
      await flushCheckpoint(true);
      return { checkpoint: watermark.checkpoint, logsIndexed, stopped: false };
    }
    if (historyTooLong()) {
      await flushCheckpoint(true);
      // Children end with this run: let a running verification finish first.
      await condition(() => !scheduledVerifyRunning && allHandlersFinished());
      const state: CarriedState = {
        checkpoint: watermark.checkpoint,
        logsIndexed,
        paused,
        lastError,
        rangeSize,
        reorgs,
        lastReorg,
        lastVerification,
        verifyRuns,
        verifyCursor,
        nextVerifyAt,
      };
      return continueAsNew<typeof indexerWorkflow>({ spec, state, searchAttributes: input.searchAttributes });
    }

    maybeStartScheduledVerification();

    if (mode !== 'realtime') {
      // Far behind: backfill up to the safe head with a window of ranges in flight.
      const latest = await persistently(() => getHead({ spec }));
      if (!latest) continue;
      noteRpc(latest);
      head = latest.head;
      safeHead = latest.safeHead;
      const target = endBlock === null ? latest.safeHead : Math.min(endBlock, latest.safeHead);
      if (target - watermark.checkpoint > rangeSize) {
        mode = 'backfill';
        // Blocks this close to the head may still be reorganised: keep their whole hash chain.
        await backfillTo(target, latest.head - tuning.maxReorgDepth);
        await flushCheckpoint(true);
        continue;
      }
      mode = 'realtime';
      await flushCheckpoint(true);
    }

    // Near the head: one syncTip at a time, each checking the hash chain from the checkpoint on.
    publishMode();
    const checkpointBefore = watermark.checkpoint;
    const tip = await persistently(() =>
      syncTip.executeWithOptions({ ...tipOptions, summary: `tip after block ${checkpointBefore}` }, [
        { spec, checkpoint: checkpointBefore, maxBlocks: rangeSize, waitMs: TIP_WAIT_MS },
      ]),
    );
    if (!tip) continue;
    noteRpc(tip);
    head = tip.head;
    safeHead = tip.safeHead;
    lastError = tip.notice ?? null;
    if (tip.reorg) {
      await rollBack(tip.reorg.detectedBlock, 'reorg');
      continue;
    }
    if (tip.toBlock > checkpointBefore) {
      if (!tip.checkpointAdvanced) {
        // The stored checkpoint is not where this run left it; write ours and go again.
        savedCheckpoint = null;
        await flushCheckpoint(true);
        continue;
      }
      recordSuccess(tip);
      watermark.complete(tip.fromBlock, tip.toBlock);
      savedCheckpoint = watermark.checkpoint;
    }
    const backfillTarget = endBlock === null ? tip.safeHead : Math.min(endBlock, tip.safeHead);
    if (backfillTarget - watermark.checkpoint > 2 * rangeSize) {
      mode = 'backfill'; // fell far behind (a long pause, a burst of blocks): back to the window
    }
    // No idle wait here: the next syncTip waits for a new block itself.
  }

  await flushCheckpoint(true);
  return { checkpoint: watermark.checkpoint, logsIndexed, stopped: true };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
