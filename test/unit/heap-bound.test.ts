import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import { HeapBound } from '../../src/worker/heap-bound';

test('the heap bound collects garbage once the heap passes it, and not while it stays under', () => {
  const used = () => v8.getHeapStatistics().used_heap_size;
  const bound = new HeapBound(used() + 64 * 1024 * 1024);
  bound.check();
  const quiet = used();
  let garbage: unknown[] | undefined = Array.from({ length: 400_000 }, (_, i) => ({ i, text: `garbage ${i}` }));
  assert.ok(garbage.length > 0);
  garbage = undefined;
  const before = used();
  assert.ok(before > quiet + 20 * 1024 * 1024, 'the garbage is still on the heap');
  bound.check(); // under the bound: left alone
  assert.ok(used() >= before - 1024 * 1024, 'nothing collected under the bound');
  const big = new HeapBound(1);
  big.check();
  assert.ok(used() < before - 20 * 1024 * 1024, 'past the bound: collected');
});

test('a watched heap bound checks on its own timer until it is stopped', async () => {
  class CountedBound extends HeapBound {
    checks = 0;
    override check(): void {
      this.checks++;
      super.check();
    }
  }
  // What a check does is the test above; here, that checks happen with nobody calling them.
  const bound = new CountedBound(Number.MAX_SAFE_INTEGER);
  const stop = bound.watch(10);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(bound.checks >= 3, `checked ${bound.checks} times in 100 ms at every 10 ms`);
  stop();
  const checks = bound.checks;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(bound.checks, checks, 'no checks once stopped');
});
