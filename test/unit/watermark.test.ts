import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Watermark, nextRangeSize } from '../../src/workflows/watermark';

test('the checkpoint only moves over the contiguous prefix of finished ranges', () => {
  const w = new Watermark(-1);
  assert.equal(w.complete(10, 19), false);
  assert.equal(w.checkpoint, -1, 'a range above a gap does not move it');
  assert.equal(w.complete(20, 29), false);
  assert.equal(w.complete(0, 9), true);
  assert.equal(w.checkpoint, 29, 'closing the gap joins everything finished above it');
  assert.equal(w.pendingAbove, 0);
});

test('out-of-order completions never let the checkpoint pass a gap (random orders)', () => {
  for (let trial = 0; trial < 200; trial++) {
    const ranges = Array.from({ length: 30 }, (_, i) => [i * 5, i * 5 + 4] as const);
    const order = [...ranges].sort(() => Math.random() - 0.5);
    const w = new Watermark(-1);
    const finished = new Set<number>();
    for (const [from, to] of order) {
      w.complete(from, to);
      finished.add(from);
      for (let b = 0; b <= w.checkpoint; b += 5) assert.ok(finished.has(b), `checkpoint ${w.checkpoint} passed unfinished range at ${b}`);
    }
    assert.equal(w.checkpoint, 149);
  }
});

test('a range re-done below the checkpoint changes nothing; reset moves it down', () => {
  const w = new Watermark(99);
  assert.equal(w.complete(50, 60), false);
  assert.equal(w.checkpoint, 99);
  w.complete(110, 120);
  w.reset(40);
  assert.equal(w.checkpoint, 40);
  assert.equal(w.pendingAbove, 0);
});

test('range size adapts: shrinks to what the RPC accepted, aims at a row target, grows when light and fast, never above the cap', () => {
  assert.equal(nextRangeSize(1000, { durationMs: 500, splits: 2, acceptedRange: 250, blocks: 1000, logs: 10 }, 2000), 250);
  assert.equal(nextRangeSize(1000, { durationMs: 500, splits: 0, blocks: 1000, logs: 10 }, 2000), 2000);
  assert.equal(nextRangeSize(2000, { durationMs: 500, splits: 0, blocks: 2000, logs: 10 }, 2000), 2000);
  assert.equal(nextRangeSize(1000, { durationMs: 30_000, splits: 0, blocks: 1000, logs: 10 }, 2000), 500);
  assert.equal(nextRangeSize(1000, { durationMs: 500, splits: 0, blocks: 10, logs: 10 }, 2000), 1000, 'a clipped range says little');
  assert.equal(nextRangeSize(100, { durationMs: 500, splits: 0, blocks: 100, logs: 50_000 }, 2000), 10, 'dense: aim at the row target');
  assert.equal(nextRangeSize(100, { durationMs: 500, splits: 0, blocks: 100, logs: 7_000 }, 2000), 100, 'near the target: keep');
});
