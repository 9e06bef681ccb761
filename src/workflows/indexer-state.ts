import type { IndexerSpec } from '../spec';
import { specStartBlock, specEndBlock } from '../spec';
import { describeFailure, type Failure } from './support/failure';
import { STAGES, type RunningStage, type StageStatuses, type StagesCarried } from '../stages';
import type { StageState } from '../stages/stage';
import type { IndexerMode, IndexerStatus, ResetResult } from './messages';
import { RateWindow } from './support/rate-window';
import { VerificationSchedule, type VerificationScheduleState } from './verification-schedule';
import { INITIAL_RANGE_SIZE, Watermark, nextRangeSize } from './watermark';

/** State handed from one run to the next by continueAsNew (each configured stage's under its name). */
export interface CarriedState extends VerificationScheduleState, StagesCarried {
  checkpoint: number;
  logsIndexed: number;
  paused: boolean;
  lastError: string | null;
  rangeSize: number;
  reorgs: number;
  lastReorg: IndexerStatus['lastReorg'];
  lastVerification: IndexerStatus['lastVerification'];
  /** Factories: every block ≤ this has had its factory events read. */
  discovered?: number;
  /** The read API's indexes are built (workflows/read-indexes.ts). */
  readIndexes?: true;
  /**
   * Following the tip when the run ended: the next run's status (and the mode gauge read from it)
   * says so until its own first head probe, rather than flickering to backfill at every
   * continueAsNew. Shown only: the run still starts by catching up, as runs before this field did,
   * so a run replays the same commands on any worker, whichever version wrote its input.
   */
  mode?: 'realtime';
}

/** What an indexed range (backfill or tip) reports back. */
export interface RangeOutcome {
  fromBlock: number;
  toBlock: number;
  logs: number;
  durationMs: number;
  splits?: number;
  acceptedRange?: number;
  rpc?: IndexerStatus['rpc'];
  /** Endpoint trouble that was put right (an omission caught, an endpoint out of rotation): shown as lastError. */
  notice?: string;
}

/** What the main loop should do next. */
export type Step = 'reset' | 'stop' | 'wait-for-resume' | 'done' | 'continue-as-new' | 'catch-up' | 'follow-tip';

/**
 * One indexer × chain's state and the decisions made on it: what the status query shows, what
 * continueAsNew carries, what a success or a failure changes, and what the loop does next. Plain
 * and deterministic (time comes in as `now`), so the workflow only wires it to Temporal and unit
 * tests drive it without a server.
 */
export class IndexerState {
  readonly startBlock: number;
  /** Where indexing ends when every contract has an endBlock; null = follow the head forever. */
  readonly endBlock: number | null;
  readonly watermark: Watermark;
  readonly verification: VerificationSchedule;
  /** The downstream stages the config has, in the order they are registered (stages/index.ts). */
  readonly stages: readonly RunningStage[];

  mode: IndexerMode = 'backfill';
  /** The mode the last run ended in, shown until this run's first head probe (CarriedState.mode). */
  private carriedMode: 'realtime' | null;
  paused: boolean;
  stopRequested = false;
  lastError: string | null;
  logsIndexed: number;
  rangeSize: number;
  head: number | null = null;
  safeHead: number | null = null;
  reorgs: number;
  lastReorg: IndexerStatus['lastReorg'];
  lastVerification: IndexerStatus['lastVerification'];
  rpc: IndexerStatus['rpc'] = [];
  /** Factories: every block ≤ this has had its factory events read; null when the spec has no factory. */
  discovered: number | null;
  /** The read API's indexes: to build once the backfill is over, being built, or built. */
  readIndexes: 'wanted' | 'building' | 'built';
  /** `indexer reset`: the block to roll back to, and the outcome its update handler waits for. */
  pendingReset: number | null = null;
  resetOutcome: { result?: ResetResult; error?: string } | null = null;
  private readonly rates = new RateWindow<'blocks' | 'logs'>();

  constructor(
    readonly spec: IndexerSpec,
    now: number,
    carried?: CarriedState,
  ) {
    this.startBlock = specStartBlock(spec);
    this.endBlock = specEndBlock(spec);
    this.watermark = new Watermark(carried?.checkpoint ?? this.startBlock - 1);
    this.verification = new VerificationSchedule(spec, this.startBlock, now, carried);
    this.paused = carried?.paused ?? false;
    this.lastError = carried?.lastError ?? null;
    this.carriedMode = carried?.mode ?? null;
    this.logsIndexed = carried?.logsIndexed ?? 0;
    this.rangeSize = carried?.rangeSize ?? Math.min(spec.tuning.maxBlockRange, INITIAL_RANGE_SIZE);
    this.reorgs = carried?.reorgs ?? 0;
    this.lastReorg = carried?.lastReorg ?? null;
    this.readIndexes = carried?.readIndexes ? 'built' : 'wanted';
    this.lastVerification = carried?.lastVerification ?? null;
    this.stages = STAGES.filter((definition) => definition.configured(spec)).map((definition) => ({
      definition: definition as unknown as RunningStage['definition'],
      state: definition.create(spec, this.startBlock - 1, carried?.[definition.name]),
    }));
    const factoryStart = Math.min(...spec.contracts.filter((c) => c.factory).map((c) => c.startBlock));
    this.discovered = Number.isFinite(factoryStart) ? (carried?.discovered ?? factoryStart - 1) : null;
  }

  /** The state of a configured stage, by name (null: not configured). */
  stage(name: string): StageState | null {
    return this.stages.find((s) => s.definition.name === name)?.state ?? null;
  }

  /** `indexer resume`: ingest, and every stage a fault had stopped (a failing handler, say). */
  resume(): void {
    this.paused = false;
    for (const { state } of this.stages) state.resume();
  }

  get checkpoint(): number {
    return this.watermark.checkpoint;
  }

  /** Paused, stopping or resetting: no new work starts (work in flight finishes). */
  get interrupted(): boolean {
    return this.paused || this.stopRequested || this.pendingReset !== null;
  }

  /** Whatever ends a pause: resume, stop, or a reset (which is itself the fix). */
  get pauseEnds(): boolean {
    return !this.paused || this.stopRequested || this.pendingReset !== null;
  }

  /** The highest block to index now: the safe head, or the end block when that comes first. */
  targetFor(safeHead: number): number {
    return this.endBlock === null ? safeHead : Math.min(this.endBlock, safeHead);
  }

  nextStep(historyTooLong: boolean): Step {
    if (this.pendingReset !== null) return 'reset';
    if (this.stopRequested) return 'stop';
    if (this.paused) return 'wait-for-resume';
    if (this.endBlock !== null && this.checkpoint >= this.endBlock) return 'done';
    if (historyTooLong) return 'continue-as-new';
    return this.mode === 'realtime' ? 'follow-tip' : 'catch-up';
  }

  /** Backfill when more than a range lies between the checkpoint and the target; else follow the tip. */
  shouldBackfill(target: number): boolean {
    return target - this.checkpoint > this.rangeSize;
  }

  /** Following the tip, the indexer fell far behind (a long pause, a burst of blocks): back to the window. */
  fellBehind(target: number): boolean {
    return target - this.checkpoint > 2 * this.rangeSize;
  }

  /** The mode the status shows (and the next run is handed): the carried one until this run's first head probe. */
  private get shownMode(): IndexerMode {
    return this.carriedMode ?? this.mode;
  }

  /** The mode the status query shows. */
  get statusMode(): IndexerMode {
    return this.paused ? 'paused' : this.shownMode;
  }

  /** A head probe's answer; from the first one on, the status shows this run's own mode. */
  noteHead(latest: { head: number; safeHead: number; rpc?: IndexerStatus['rpc'] }): void {
    this.head = latest.head;
    this.safeHead = latest.safeHead;
    if (latest.rpc) this.rpc = latest.rpc;
    this.carriedMode = null;
  }

  /** A range is stored: count it, clear the last error, learn a better range size, move the watermark. */
  recordSuccess(result: RangeOutcome, now: number): void {
    this.logsIndexed += result.logs;
    this.lastError = result.notice ?? null; // endpoints that misbehaved and were overruled stay visible
    if (result.rpc) this.rpc = result.rpc;
    const blocks = result.toBlock - result.fromBlock + 1;
    this.rates.record(now, { blocks, logs: result.logs });
    this.rangeSize = nextRangeSize(this.rangeSize, { splits: 0, ...result, blocks }, this.spec.tuning.maxBlockRange);
    this.watermark.complete(result.fromBlock, result.toBlock);
  }

  /**
   * Work failed for good (its activity's retries spent): show why, and pause when retrying cannot
   * help. `mayPause: false` for bookkeeping that must go on whatever (saving the checkpoint).
   */
  recordFailure(error: unknown, options: { mayPause?: boolean } = {}): Failure {
    const failure = describeFailure(error);
    this.lastError = failure.message;
    if (failure.fatal && options.mayPause !== false) this.paused = true;
    return failure;
  }

  /** A rollback (reorg or reset) moved the checkpoint down to the ancestor. */
  recordRollback(result: { ancestor: number; depth: number; rowsDeleted: number }, reason: 'reorg' | 'reset', detectedBlock: number, at: string): ResetResult {
    this.watermark.reset(result.ancestor);
    for (const { state } of this.stages) state.rewound(result.ancestor);
    if (this.discovered !== null) this.discovered = Math.min(this.discovered, result.ancestor);
    this.logsIndexed = Math.max(0, this.logsIndexed - result.rowsDeleted);
    if (reason === 'reorg') {
      this.reorgs += 1;
      this.lastReorg = { at, block: detectedBlock, depth: result.depth, ancestor: result.ancestor };
    }
    this.lastError = null;
    return { checkpoint: result.ancestor, rowsDeleted: result.rowsDeleted };
  }

  /** A verification's repair changed stored events: each stage it told replays or publishes what it owes. */
  recordRepair(repair: { stages: Record<string, object> }): void {
    for (const { definition, state } of this.stages) {
      const summary = repair.stages[definition.name];
      if (summary) state.repaired(summary);
    }
  }

  /** Every downstream stage has done everything it may do up to the checkpoint. */
  get stagesCaughtUp(): boolean {
    return this.stages.every(({ state }) => state.caughtUp(this));
  }

  /**
   * A downstream stage has done everything up to the stored checkpoint and would go on with more:
   * it waits for the next save (every couple of seconds in backfill), so that save is worth making sooner.
   */
  stageWaitsFor(storedCheckpoint: number | null): boolean {
    if (storedCheckpoint === null) return false;
    return this.stages.some(({ state }) => state.waitsFor(storedCheckpoint, this));
  }

  /** Why a reset cannot be done now, or undefined when it can. */
  resetRefusal(toBlock: number): string | undefined {
    if (!Number.isInteger(toBlock) || toBlock < this.startBlock - 1) return `--to-block must be a block number ≥ ${this.startBlock - 1}`;
    if (toBlock > this.checkpoint) return `--to-block ${toBlock} is above the checkpoint (${this.checkpoint}): nothing to roll back`;
    if (this.pendingReset !== null) return 'a reset is already in progress';
    return undefined;
  }

  /** The blocks `indexer verify [--from] [--to]` checks: at most up to the checkpoint. */
  verifyBounds(request: { fromBlock?: number; toBlock?: number }): { fromBlock: number; toBlock: number } {
    return { fromBlock: request.fromBlock ?? this.startBlock, toBlock: Math.min(request.toBlock ?? this.checkpoint, this.checkpoint) };
  }

  verifyRefusal(request: { fromBlock?: number; toBlock?: number }): string | undefined {
    const { fromBlock, toBlock } = this.verifyBounds(request);
    if (!Number.isInteger(fromBlock) || fromBlock < 0) return '--from must be a block number';
    if (toBlock < fromBlock) return `nothing indexed in ${fromBlock}-${request.toBlock ?? 'checkpoint'} to verify (checkpoint ${this.checkpoint})`;
    return undefined;
  }

  status(run: { workflowId: string; runId: string }, now: number): IndexerStatus {
    return {
      name: this.spec.name,
      chainId: this.spec.chainId,
      workflowId: run.workflowId,
      runId: run.runId,
      mode: this.statusMode,
      paused: this.paused,
      checkpoint: this.checkpoint,
      head: this.head,
      safeHead: this.safeHead,
      // Against what is left to index: an indexer done at its endBlock lags 0, whatever the head.
      lag: this.safeHead === null ? null : Math.max(0, this.targetFor(this.safeHead) - this.checkpoint),
      blocksPerSecond: this.rates.perSecond(now, 'blocks'),
      logsPerSecond: this.rates.perSecond(now, 'logs'),
      logsIndexed: this.logsIndexed,
      reorgs: this.reorgs,
      lastReorg: this.lastReorg,
      lastVerification: this.lastVerification,
      lastError: this.lastError,
      rpc: this.rpc,
      startBlock: this.startBlock,
      endBlock: this.endBlock,
      ...this.stageStatuses(now),
    };
  }

  /** Every registered stage's object in the status: null when the config has none. */
  private stageStatuses(now: number): StageStatuses {
    return Object.fromEntries(STAGES.map(({ name }) => [name, this.stage(name)?.status(this, now) ?? null])) as StageStatuses;
  }

  carried(): CarriedState {
    return {
      checkpoint: this.checkpoint,
      logsIndexed: this.logsIndexed,
      paused: this.paused,
      lastError: this.lastError,
      rangeSize: this.rangeSize,
      reorgs: this.reorgs,
      lastReorg: this.lastReorg,
      lastVerification: this.lastVerification,
      ...this.verification.carried(),
      ...Object.fromEntries(this.stages.map(({ definition, state }) => [definition.name, state.carried()])),
      ...(this.discovered !== null ? { discovered: this.discovered } : {}),
      ...(this.readIndexes === 'built' ? { readIndexes: true as const } : {}),
      ...(this.shownMode === 'realtime' ? { mode: 'realtime' as const } : {}),
    };
  }
}
