import type { IndexerSpec } from '../spec';

/** What the scheduled verification carries from one run of the indexer workflow to the next. */
export interface VerificationScheduleState {
  /** Verification runs so far (numbers the child ids). */
  verifyRuns: number;
  /** Where the next scheduled run resumes (below where the last one stopped); null = from the top. */
  verifyCursor: number | null;
  nextVerifyAt: number | null;
}

/**
 * When the next scheduled verification is due and which blocks it covers: every `verify.interval`,
 * finalized blocks only (deeper than maxReorgDepth below the head), newest first, each run resuming
 * below where the last one stopped and wrapping to the top when it reaches the start block. Pure.
 */
export class VerificationSchedule {
  private readonly intervalMs: number | undefined;
  private runs: number;
  private cursor: number | null;
  private nextAt: number | null;
  private running = false;

  constructor(
    private readonly spec: Pick<IndexerSpec, 'verify' | 'tuning'>,
    private readonly startBlock: number,
    now: number,
    carried?: VerificationScheduleState,
  ) {
    this.intervalMs = spec.verify?.intervalMs;
    this.runs = carried?.verifyRuns ?? 0;
    this.cursor = carried?.verifyCursor ?? null;
    this.nextAt = carried?.nextVerifyAt ?? (this.intervalMs ? now + this.intervalMs : null);
  }

  /** Numbers a verification child (scheduled or on demand): `verify:<name>:<chainId>:<n>`. */
  nextRunNumber(): number {
    this.runs += 1;
    return this.runs;
  }

  /** A scheduled run is in flight (continueAsNew waits for it). */
  get busy(): boolean {
    return this.running;
  }

  /** The blocks a scheduled run should check now, or undefined when none is due. Marks it running. */
  due(now: number, checkpoint: number, head: number | null): { fromBlock: number; toBlock: number; maxChunks: number } | undefined {
    if (!this.intervalMs || this.nextAt === null || this.running || now < this.nextAt) return undefined;
    const finalized = Math.min(checkpoint, (head ?? checkpoint) - this.spec.tuning.maxReorgDepth);
    this.nextAt = now + this.intervalMs;
    if (finalized < this.startBlock) return undefined;
    this.running = true;
    const top = this.cursor !== null && this.cursor <= finalized ? this.cursor : finalized;
    return { fromBlock: this.startBlock, toBlock: top, maxChunks: this.spec.verify?.maxChunksPerRun ?? 50 };
  }

  /** A scheduled run ended; the next one resumes below the lowest block it reached (or wraps). */
  finished(result: { fromBlock: number } | undefined): void {
    if (result) this.cursor = result.fromBlock - 1 >= this.startBlock ? result.fromBlock - 1 : null;
    this.running = false;
  }

  carried(): VerificationScheduleState {
    return { verifyRuns: this.runs, verifyCursor: this.cursor, nextVerifyAt: this.nextAt };
  }
}
