import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import { HeapBound } from '../../src/heap-bound';

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
