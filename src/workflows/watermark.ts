/**
 * The contiguous watermark: ranges may finish in any order, the checkpoint only moves over the
 * unbroken prefix of finished ones. Pure, so workflow code and unit tests share it.
 */
export class Watermark {
  private checkpointValue: number;
  /** Finished ranges above the checkpoint, by first block. */
  private readonly finished = new Map<number, number>();

  constructor(checkpoint: number) {
    this.checkpointValue = checkpoint;
  }

  get checkpoint(): number {
    return this.checkpointValue;
  }

  /** Ranges finished but not yet joined to the checkpoint (a gap lies below them). */
  get pendingAbove(): number {
    return this.finished.size;
  }

  /** Records [from, to] as finished; returns true when the checkpoint moved. */
  complete(from: number, to: number): boolean {
    if (to < from) throw new Error(`empty range ${from}-${to}`);
    if (to <= this.checkpointValue) return false;
    this.finished.set(Math.max(from, this.checkpointValue + 1), to);
    const before = this.checkpointValue;
    for (let next = this.finished.get(this.checkpointValue + 1); next !== undefined; next = this.finished.get(this.checkpointValue + 1)) {
      this.finished.delete(this.checkpointValue + 1);
      this.checkpointValue = next;
    }
    return this.checkpointValue !== before;
  }

  /** Moves the checkpoint down (rollback, reset) and forgets everything above it. */
  reset(checkpoint: number): void {
    this.checkpointValue = checkpoint;
    this.finished.clear();
  }
}

/** Rows one range should carry: enough to amortise an activity, few enough to keep memory flat. */
export const TARGET_LOGS_PER_RANGE = 5_000;
/** Where a fresh indexer starts before it knows the chain's log density. */
export const INITIAL_RANGE_SIZE = 10;

/**
 * The next range size from how the last one went: shrink to what the RPC accepted when it had to
 * split, aim at about TARGET_LOGS_PER_RANGE rows and a few seconds per activity, grow while both
 * are small, never above the configured cap.
 */
export function nextRangeSize(
  current: number,
  result: { durationMs: number; splits: number; acceptedRange?: number; blocks: number; logs: number },
  cap: number,
): number {
  const clamp = (n: number) => Math.max(1, Math.min(cap, Math.floor(n)));
  if (result.splits > 0 && result.acceptedRange) return clamp(result.acceptedRange);
  if (result.blocks < current) return clamp(current); // a clipped range says little
  if (result.logs > 2 * TARGET_LOGS_PER_RANGE) return clamp((current * TARGET_LOGS_PER_RANGE) / result.logs);
  if (result.durationMs > 20_000) return clamp(current / 2);
  if (result.durationMs < 2_000 && result.logs < TARGET_LOGS_PER_RANGE) return clamp(current * 2);
  return clamp(current);
}
