import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState } from '@temporalio/common';
import type { IndexerSpec } from '../../src/spec';
import { BackfillWindow } from '../../src/workflows/backfill-window';
import { Backoff, describeFailure } from '../../src/workflows/support/failure';
import { IndexerState } from '../../src/workflows/indexer-state';
import type { HandlersStage } from '../../src/stages/handlers/state';
import { VerificationSchedule } from '../../src/workflows/verification-schedule';

/** The decisions of the indexer workflow, driven without a Temporal server. */

function spec(overrides: { startBlock?: number; endBlock?: number; verify?: IndexerSpec['verify']; maxBlockRange?: number } = {}): IndexerSpec {
  return {
    name: 'demo',
    chainId: 31337,
    chain: 'local',
    contracts: [{ name: 'Token', addresses: ['0x0000000000000000000000000000000000000001'], startBlock: overrides.startBlock ?? 100, endBlock: overrides.endBlock, events: [] }],
    tuning: { confirmations: 0, pollIntervalMs: 1000, maxBlockRange: overrides.maxBlockRange ?? 2000, maxInFlight: 3, maxReorgDepth: 10, rpcTimeoutMs: 30_000 },
    verify: overrides.verify,
  };
}

const activityFailure = (cause: ApplicationFailure) => new ActivityFailure('activity failed', 'indexRange', '1', RetryState.MAXIMUM_ATTEMPTS_REACHED, undefined, cause);

test('a fresh indexer starts below its first block, backfills, and follows the tip once caught up', () => {
  const s = new IndexerState(spec(), 0);
  assert.equal(s.checkpoint, 99);
  assert.equal(s.rangeSize, 10, 'a first guess until the log density is known');
  assert.equal(s.nextStep(false), 'catch-up');
  assert.equal(s.shouldBackfill(500), true);
  assert.equal(s.shouldBackfill(105), false, 'within a range of the head: follow the tip');
  s.mode = 'realtime';
  assert.equal(s.nextStep(false), 'follow-tip');
  s.watermark.reset(400);
  assert.equal(s.fellBehind(415), false);
  assert.equal(s.fellBehind(421), true, 'more than two ranges behind: back to the window');
});

test('what the loop does next: reset before stop before pause before done before continueAsNew', () => {
  const s = new IndexerState(spec({ endBlock: 200 }), 0);
  s.watermark.reset(200);
  assert.equal(s.nextStep(true), 'done');
  s.paused = true;
  assert.equal(s.nextStep(true), 'wait-for-resume');
  assert.equal(s.pauseEnds, false);
  s.stopRequested = true;
  assert.equal(s.nextStep(true), 'stop');
  assert.equal(s.pauseEnds, true);
  s.pendingReset = 150;
  assert.equal(s.nextStep(true), 'reset');
  const t = new IndexerState(spec(), 0);
  assert.equal(t.nextStep(true), 'continue-as-new');
});

test('a success counts rows, clears lastError, adapts the range size and moves the watermark', () => {
  const s = new IndexerState(spec(), 0);
  s.lastError = 'RPC down';
  s.recordSuccess({ fromBlock: 100, toBlock: 109, logs: 50, durationMs: 300 }, 1_000);
  assert.equal(s.checkpoint, 109);
  assert.equal(s.logsIndexed, 50);
  assert.equal(s.lastError, null);
  assert.equal(s.rangeSize, 20, 'fast and light: the next range doubles');
  s.recordSuccess({ fromBlock: 120, toBlock: 139, logs: 0, durationMs: 300 }, 2_000);
  assert.equal(s.checkpoint, 109, 'a range above a gap waits for the gap');
  s.recordSuccess({ fromBlock: 110, toBlock: 119, logs: 30_000, durationMs: 300 }, 3_000);
  assert.equal(s.checkpoint, 139);
  assert.equal(s.rangeSize, 40, 'a range shorter than the size says little about density');
  s.recordSuccess({ fromBlock: 140, toBlock: 179, logs: 40_000, durationMs: 300 }, 3_000);
  assert.equal(s.rangeSize, 5, 'a dense one aims at 5,000 logs per range');
  const st = s.status({ workflowId: 'w', runId: 'r' }, 3_000);
  assert.equal(st.logsIndexed, 70_050);
  assert.equal(st.blocksPerSecond, 40, '80 blocks over the 2 s the rate window spans');
});

test('a transient failure shows in lastError; a fatal one pauses, except for bookkeeping', () => {
  const s = new IndexerState(spec(), 0);
  const transient = s.recordFailure(activityFailure(ApplicationFailure.create({ type: 'RpcRequestError', message: 'RPC eth_getLogs to http://a/… failed' })));
  assert.deepEqual(transient, { message: 'RPC eth_getLogs to http://a/… failed', fatal: false });
  assert.equal(s.paused, false);
  assert.equal(s.lastError, transient.message);
  const fatal = ApplicationFailure.create({ type: 'AbiDecodeError', message: 'log 3 of block 7 does not decode' });
  assert.equal(s.recordFailure(activityFailure(fatal), { mayPause: false }).fatal, true);
  assert.equal(s.paused, false, 'saving the checkpoint never pauses');
  s.recordFailure(new ChildWorkflowFailure('default', { workflowId: 'reorg:demo:31337:7', runId: 'r' }, 'reorgRollbackWorkflow', RetryState.NON_RETRYABLE_FAILURE, activityFailure(fatal)));
  assert.equal(s.paused, true);
  assert.equal(s.lastError, 'log 3 of block 7 does not decode', 'the innermost failure says what went wrong');
  assert.equal(s.status({ workflowId: 'w', runId: 'r' }, 0).mode, 'paused');
});

test('the error types retrying cannot fix are fatal, whether marked so or by type', () => {
  assert.equal(describeFailure(ApplicationFailure.create({ type: 'ChainIdMismatchError', message: 'x' })).fatal, true);
  assert.equal(describeFailure(ApplicationFailure.nonRetryable('x', 'Whatever')).fatal, true);
  assert.equal(describeFailure(ApplicationFailure.create({ type: 'PostgresError', message: 'x' })).fatal, false);
  assert.deepEqual(describeFailure(new Error('boom')), { message: 'boom', fatal: false });
});

test('the workflow backoff doubles to a minute and starts over after a success', () => {
  const b = new Backoff();
  assert.deepEqual([b.next(), b.next(), b.next()], [1_000, 2_000, 4_000]);
  for (let i = 0; i < 10; i++) b.next();
  assert.equal(b.next(), 60_000);
  b.reset();
  assert.equal(b.next(), 1_000);
});

test('rollbacks move the checkpoint down and count reorgs, resets do not count', () => {
  const s = new IndexerState(spec(), 0);
  s.recordSuccess({ fromBlock: 100, toBlock: 150, logs: 40, durationMs: 100 }, 0);
  s.lastError = 'x';
  assert.deepEqual(s.recordRollback({ ancestor: 140, depth: 10, rowsDeleted: 8 }, 'reorg', 150, 'now'), { checkpoint: 140, rowsDeleted: 8 });
  assert.equal(s.checkpoint, 140);
  assert.equal(s.logsIndexed, 32);
  assert.equal(s.reorgs, 1);
  assert.deepEqual(s.lastReorg, { at: 'now', block: 150, depth: 10, ancestor: 140 });
  assert.equal(s.lastError, null);
  s.recordRollback({ ancestor: 120, depth: 20, rowsDeleted: 100 }, 'reset', 140, 'later');
  assert.equal(s.reorgs, 1);
  assert.equal(s.logsIndexed, 0, 'never below zero');
});

test('reset and verify requests are refused with a reason the CLI prints', () => {
  const s = new IndexerState(spec(), 0);
  s.watermark.reset(300);
  assert.equal(s.resetRefusal(98), '--to-block must be a block number ≥ 99');
  assert.match(s.resetRefusal(301)!, /above the checkpoint \(300\)/);
  assert.equal(s.resetRefusal(250), undefined);
  s.pendingReset = 250;
  assert.equal(s.resetRefusal(200), 'a reset is already in progress');
  assert.deepEqual(s.verifyBounds({}), { fromBlock: 100, toBlock: 300 });
  assert.deepEqual(s.verifyBounds({ fromBlock: 150, toBlock: 900 }), { fromBlock: 150, toBlock: 300 }, 'never past the checkpoint');
  assert.match(s.verifyRefusal({ fromBlock: 400 })!, /nothing indexed in 400-checkpoint/);
  assert.equal(s.verifyRefusal({ fromBlock: 150 }), undefined);
});

test('continueAsNew carries everything the next run needs, and a run built from it says the same', () => {
  const s = new IndexerState(spec({ verify: { intervalMs: 60_000 } }), 0);
  s.recordSuccess({ fromBlock: 100, toBlock: 119, logs: 7, durationMs: 10 }, 0);
  s.recordRollback({ ancestor: 110, depth: 9, rowsDeleted: 2 }, 'reorg', 119, 'then');
  s.paused = true;
  s.lastError = 'still broken';
  s.verification.nextRunNumber();
  const carried = s.carried();
  assert.deepEqual(carried, {
    checkpoint: 110,
    logsIndexed: 5,
    paused: true,
    lastError: 'still broken',
    rangeSize: 20,
    reorgs: 1,
    lastReorg: { at: 'then', block: 119, depth: 9, ancestor: 110 },
    lastVerification: null,
    verifyRuns: 1,
    verifyCursor: null,
    nextVerifyAt: 60_000,
  });
  const next = new IndexerState(s.spec, 5_000, carried);
  assert.deepEqual(next.carried(), carried);
  assert.equal(next.mode, 'backfill', 'a run that was catching up starts by catching up');
});

test('continueAsNew while following the tip: the next run shows realtime until its own head probe, and still starts by catching up', () => {
  const s = new IndexerState(spec(), 0);
  s.noteHead({ head: 130, safeHead: 118 });
  s.recordSuccess({ fromBlock: 100, toBlock: 118, logs: 3, durationMs: 10 }, 0);
  s.mode = 'realtime';
  const carried = s.carried();
  assert.equal(carried.mode, 'realtime');
  const next = new IndexerState(s.spec, 5_000, carried);
  assert.equal(next.status({ workflowId: 'w', runId: 'r' }, 5_000).mode, 'realtime', 'no flicker to backfill in the status');
  assert.equal(next.nextStep(false), 'catch-up', 'the same first command as a run whose input has no mode');
  assert.deepEqual(next.carried(), carried, 'a run that ends before its first probe hands the mode on');
  next.paused = true;
  assert.equal(next.status({ workflowId: 'w', runId: 'r' }, 5_000).mode, 'paused');
  next.paused = false;
  // Its first head probe finds it far behind (a burst of blocks while it handed over): backfill shows.
  next.noteHead({ head: 900, safeHead: 888 });
  next.mode = 'backfill';
  assert.equal(next.status({ workflowId: 'w', runId: 'r' }, 5_000).mode, 'backfill');
  assert.equal(next.carried().mode, undefined);
});

test('the backfill window starts due retries first, never more than maxInFlight, and ends when all settled', () => {
  const w = new BackfillWindow(0, 99, 3);
  assert.deepEqual(w.take(0, 10), [[0, 9], [10, 19], [20, 29]]);
  assert.deepEqual(w.take(0, 10), [], 'the window is full');
  w.settle([10, 19], { ok: false, retryAt: 5_000 });
  assert.deepEqual(w.take(1_000, 50), [[30, 79]], 'a slot is free; the failed range is not due yet; the size follows the caller');
  assert.equal(w.wakeAt, 5_000);
  w.settle([0, 9], { ok: true });
  assert.deepEqual(w.take(5_000, 50), [[10, 19]], 'the due retry comes before new blocks');
  w.settle([20, 29], { ok: true });
  assert.deepEqual(w.take(5_000, 50), [[80, 99]], 'the last range is clipped to the target');
  assert.equal(w.canGrow, false);
  for (const r of [[10, 19], [30, 79], [80, 99]] as const) w.settle(r, { ok: true });
  assert.equal(w.idle, true);
  assert.equal(w.exhausted, true);
});

test('scheduled verification: every interval, finalized blocks only, resuming below the last run and wrapping', () => {
  const v = new VerificationSchedule(spec({ verify: { intervalMs: 1_000, maxChunksPerRun: 2 } }), 100, 0);
  assert.equal(v.due(999, 500, 520), undefined, 'not due yet');
  assert.deepEqual(v.due(1_000, 500, 520), { fromBlock: 100, toBlock: 500, maxChunks: 2 }, 'head - maxReorgDepth is above the checkpoint');
  assert.equal(v.busy, true);
  assert.equal(v.due(5_000, 500, 520), undefined, 'one run at a time');
  v.finished({ fromBlock: 300 });
  assert.deepEqual(v.due(5_000, 600, 605), { fromBlock: 100, toBlock: 299, maxChunks: 2 }, 'resumes below where the last one stopped');
  v.finished({ fromBlock: 100 });
  assert.deepEqual(v.due(6_000, 600, 605), { fromBlock: 100, toBlock: 595, maxChunks: 2 }, 'wraps to the top (finalized = head - maxReorgDepth)');
  v.finished(undefined);
  assert.equal(v.due(7_000, 100, 105), undefined, 'nothing finalized yet');
  assert.equal(new VerificationSchedule(spec(), 100, 0).due(1e12, 500, 600), undefined, 'no verify.interval: never');
});

test('a success that carries a notice (endpoint trouble put right) shows it as lastError until a clean one', () => {
  const s = new IndexerState(spec(), 0);
  const notice = 'http://a/… returned no log for block(s) 105 although their logsBloom admits the filter; asked again, http://a/… returned 1';
  s.recordSuccess({ fromBlock: 100, toBlock: 109, logs: 1, durationMs: 300, notice }, 1_000);
  assert.equal(s.lastError, notice);
  assert.equal(s.checkpoint, 109, 'the range counts all the same: its data is complete');
  s.recordSuccess({ fromBlock: 110, toBlock: 119, logs: 0, durationMs: 300 }, 2_000);
  assert.equal(s.lastError, null);
});

test('a handlers stage that has done everything stored waits for the next checkpoint save, unless it is paused', () => {
  const s = new IndexerState({ ...spec(), handlers: { module: '/handlers.mjs' } }, 0);
  assert.equal(s.stageWaitsFor(null), false, 'nothing stored yet: nothing to wait for');
  const handlers = s.stage('handlers') as HandlersStage;
  handlers.recordResult({ checkpoint: 150, events: 800, durationMs: 290, caughtUp: true }, handlers.epoch, 150, 0);
  assert.equal(s.stageWaitsFor(150), true);
  assert.equal(s.stageWaitsFor(200), false, 'it has work up to 200');
  handlers.paused = true;
  assert.equal(s.stageWaitsFor(150), false);
  assert.equal(new IndexerState(spec(), 0).stageWaitsFor(150), false, 'no downstream stage');
});

test('an indexer done at its endBlock lags 0, whatever the head: lag is measured against what is left to index', () => {
  const s = new IndexerState(spec({ endBlock: 500 }), 0);
  s.noteHead({ head: 564, safeHead: 564 });
  s.watermark.reset(500);
  assert.equal(s.nextStep(false), 'done');
  assert.equal(s.status({ workflowId: 'w', runId: 'r' }, 0).lag, 0);
  s.watermark.reset(450);
  assert.equal(s.status({ workflowId: 'w', runId: 'r' }, 0).lag, 50, 'still 50 blocks to its end');
  const following = new IndexerState(spec(), 0);
  following.noteHead({ head: 564, safeHead: 560 });
  following.watermark.reset(500);
  assert.equal(following.status({ workflowId: 'w', runId: 'r' }, 0).lag, 60, 'without an end: against the safe head');
});
