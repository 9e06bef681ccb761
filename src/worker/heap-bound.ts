import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * How far V8 lets the heap grow past what its last full collection kept, in percent. V8's own
 * choice goes up to four times the live set; at half again, its incremental, mostly concurrent
 * collections keep a backfill's heap near its live set, and the forced collection of HeapBound
 * is left for spikes. Without it (--trace-gc) the bound forced a collection about every 0.75 s
 * of a backfill, each a 40-75 ms pause of the main thread; with it, a 1M-log backfill had 38 of
 * V8's own (about 10 ms of pause each) and 2 forced ones. 1M-log bench on one machine: 43,294 to
 * 48,704 logs/s at 382-389 MB peak RSS before, 46,095-49,493 at 367-372 MB with it.
 * Read by V8 each time it sets the next limit, so it applies from the next collection on.
 */
export const HEAP_GROWING_PERCENT = 50;

/** Sets V8's heap growth past the live set (process-wide: every isolate, the workflow thread's too). */
export function limitHeapGrowth(percent = HEAP_GROWING_PERCENT): void {
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/**
 * V8 lets the old generation grow to about four times what its last full collection kept before
 * it collects again: in a 200k-log backfill whose live set stays near 70 MB the heap reached
 * 360 MB and the worker 520 MB of RSS, growing with the backfill's pace, not its needs. A full
 * collection whenever the heap passes a bound keeps the worker flat without NODE_OPTIONS caps (which
 * would turn a larger live set into a crash instead). The bound follows what survives (twice the
 * last live set), so a worker that really needs more memory is not collected at every check.
 * Checked on a timer, not after each activity: a backfill's ranges run side by side and allocate
 * about 60 MB/s between them (up to 130), so checks at activity ends let the heap overshoot the bound by half
 * (208 MB against 128 in a 1M-log backfill), and a handlers activity runs for seconds.
 */
export class HeapBound {
  private readonly collect: () => void;
  private live = 0;

  constructor(private readonly boundBytes: number) {
    // `gc` for contexts made from now on; the flag alone does not give this one a `gc` global.
    v8.setFlagsFromString('--expose-gc');
    this.collect = vm.runInNewContext('gc') as () => void;
  }

  /** Checks every `everyMs` until the returned function is called; the timer keeps no process alive. */
  watch(everyMs: number): () => void {
    const timer = setInterval(() => this.check(), everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Collects when the heap holds more than the bound and more than twice the last live set. */
  check(): void {
    const used = v8.getHeapStatistics().used_heap_size;
    if (used < Math.max(this.boundBytes, 2 * this.live)) return;
    this.collect();
    this.live = v8.getHeapStatistics().used_heap_size;
  }
}
