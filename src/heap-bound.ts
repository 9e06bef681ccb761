import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * V8 lets the old generation grow to about four times what its last full collection kept before
 * it collects again: in a 200k-log backfill whose live set stays near 70 MB the heap reached
 * 360 MB and the worker 520 MB of RSS, growing with the backfill's pace, not its needs. A full
 * collection whenever the heap passes a bound, checked after each activity and between the batches
 * of the handlers and stream stages (their activities run for seconds), keeps the worker flat
 * without NODE_OPTIONS caps (which would turn a larger live set into a crash instead). The bound
 * follows what survives (twice the last live set), so a worker that really needs more memory is
 * not collected after every activity.
 */
export class HeapBound {
  private readonly collect: () => void;
  private live = 0;

  constructor(private readonly boundBytes: number) {
    // `gc` for contexts made from now on; the flag alone does not give this one a `gc` global.
    v8.setFlagsFromString('--expose-gc');
    this.collect = vm.runInNewContext('gc') as () => void;
  }

  /** Collects when the heap holds more than the bound and more than twice the last live set. */
  check(): void {
    const used = v8.getHeapStatistics().used_heap_size;
    if (used < Math.max(this.boundBytes, 2 * this.live)) return;
    this.collect();
    this.live = v8.getHeapStatistics().used_heap_size;
  }
}
