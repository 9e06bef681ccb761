/** How far the status' rates look back. */
const RATE_WINDOW_MS = 30_000;

/** Throughput over the last half minute, for the status (blocks/s, logs/s, events/s). Pure. */
export class RateWindow<K extends string> {
  private readonly samples: Array<{ at: number; counts: Record<K, number> }> = [];

  record(now: number, counts: Record<K, number>): void {
    this.samples.push({ at: now, counts });
    while (this.samples.length > 0 && now - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift();
  }

  /** Per second, over the window (at least one second). */
  perSecond(now: number, key: K): number {
    const window = this.samples.filter((s) => now - s.at <= RATE_WINDOW_MS);
    const seconds = window.length > 0 ? Math.max(1, (now - window[0]!.at) / 1000) : 1;
    return Math.round((window.reduce((sum, s) => sum + s.counts[key], 0) / seconds) * 10) / 10;
  }
}
