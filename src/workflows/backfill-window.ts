/** A block range [from, to], inclusive. */
export type BlockRange = readonly [number, number];

/**
 * The plan of a backfill from `from` to `target`: which ranges to start next and which failed ones
 * to retry when, with at most `maxInFlight` at once. Pure: the workflow runs the activities and
 * reports how each one settled; the checkpoint itself lives in the Watermark.
 */
export class BackfillWindow {
  private nextFrom: number;
  private readonly inFlight = new Set<number>();
  private readonly retries: Array<{ range: BlockRange; notBefore: number }> = [];

  constructor(
    from: number,
    private readonly target: number,
    private readonly maxInFlight: number,
  ) {
    this.nextFrom = from;
  }

  /** Ranges to start now, marked in flight: due retries first, then new ranges of `rangeSize` blocks. */
  take(now: number, rangeSize: number): BlockRange[] {
    const out: BlockRange[] = [];
    while (this.inFlight.size < this.maxInFlight) {
      const due = this.retries.findIndex((r) => r.notBefore <= now);
      let range: BlockRange;
      if (due >= 0) range = this.retries.splice(due, 1)[0]!.range;
      else if (this.nextFrom <= this.target) {
        range = [this.nextFrom, Math.min(this.nextFrom + rangeSize - 1, this.target)];
        this.nextFrom = range[1] + 1;
      } else break;
      this.inFlight.add(range[0]);
      out.push(range);
    }
    return out;
  }

  /** A range finished; a failed one is retried from `retryAt` on (its blocks stay below the watermark meanwhile). */
  settle(range: BlockRange, outcome: { ok: true } | { ok: false; retryAt: number }): void {
    this.inFlight.delete(range[0]);
    if (!outcome.ok) this.retries.push({ range, notBefore: outcome.retryAt });
  }

  /** Nothing in flight. */
  get idle(): boolean {
    return this.inFlight.size === 0;
  }

  /** Every range was started and none waits for a retry. */
  get exhausted(): boolean {
    return this.nextFrom > this.target && this.retries.length === 0;
  }

  get hasRetries(): boolean {
    return this.retries.length > 0;
  }

  /** A new range could start now (a slot is free and blocks are left). */
  get canGrow(): boolean {
    return this.inFlight.size < this.maxInFlight && this.nextFrom <= this.target;
  }

  /** When the earliest waiting retry falls due. */
  get wakeAt(): number | undefined {
    return this.retries.length > 0 ? Math.min(...this.retries.map((r) => r.notBefore)) : undefined;
  }
}
