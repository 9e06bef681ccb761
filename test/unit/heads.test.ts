import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderEndpoints } from '../../src/cli/render';
import { describeHeads, endpointsWithBlock, summarizeHeads, tipVerdict, type EndpointHeadReport } from '../../src/rpc/heads';
import type { IndexerStatus } from '../../src/workflows/messages';

const report = (index: number, head: number | undefined, rank = index): EndpointHeadReport => ({
  index,
  label: `http://e${index}`,
  rank,
  ...(head === undefined ? { error: 'connection refused' } : { head }),
});

test('the chain head is the highest head; the tip endpoint the best-ranked one there', () => {
  // e0 is the fastest (rank 1) but lags; e1 and e2 are at the top, e2 ranks better.
  const probe = summarizeHeads([report(0, 120, 1), report(1, 123, 50), report(2, 123, 20)])!;
  assert.equal(probe.head, 123);
  assert.equal(probe.tip, 2);
  assert.equal(probe.tipLabel, 'http://e2');
  assert.equal(probe.allAnswered, true);
});

test('an endpoint that did not answer leaves the head to the others, and is remembered', () => {
  const probe = summarizeHeads([report(0, undefined), report(1, 99)])!;
  assert.equal(probe.head, 99);
  assert.equal(probe.tip, 1);
  assert.equal(probe.allAnswered, false);
  assert.equal(summarizeHeads([report(0, undefined)]), undefined, 'no answer, no head');
});

/** What the tests' verdicts may roll back: far more than any of their chains is shorter by, unless a test says otherwise. */
const REACH = { maxReorgDepth: 64, indexer: 'demo' };

test('lag is not a reorg: one endpoint behind the checkpoint changes nothing while another is at the top', () => {
  const probe = summarizeHeads([report(0, 900, 1), report(1, 1000, 2)])!;
  assert.deepEqual(tipVerdict(probe, 995, REACH), { kind: 'ahead' });
  assert.deepEqual(tipVerdict(probe, 1000, REACH), { kind: 'same' });
});

test('a shorter chain only when every endpoint answered and all are below the checkpoint', () => {
  assert.deepEqual(tipVerdict(summarizeHeads([report(0, 90), report(1, 95)])!, 100, REACH), { kind: 'shorter' });
  const waiting = tipVerdict(summarizeHeads([report(0, 90), report(1, undefined)])!, 100, REACH);
  assert.equal(waiting.kind, 'wait');
  assert.equal(
    (waiting as { message: string }).message,
    'every reachable endpoint is behind the checkpoint 100 (http://e0: head 90, http://e1: unreachable (connection refused)); waiting',
  );
  // A single endpoint: it is the whole chain as far as we can know.
  assert.deepEqual(tipVerdict(summarizeHeads([report(0, 90)])!, 100, REACH), { kind: 'shorter' });
});

test('a chain more than maxReorgDepth shorter than the checkpoint is a wait, not a rollback: one view of it may be a node mid-reorg', () => {
  const probe = summarizeHeads([report(0, 90), report(1, 95)])!;
  assert.deepEqual(tipVerdict(probe, 100, { maxReorgDepth: 5, indexer: 'demo' }), { kind: 'shorter' }, '5 below: within reach');
  assert.deepEqual(tipVerdict(probe, 101, { maxReorgDepth: 5, indexer: 'demo' }), {
    kind: 'wait',
    message:
      "every endpoint's head (95) is 6 blocks below the checkpoint 101, more than maxReorgDepth (5): waiting for the chain to come back; if it really is that much shorter, run indexer reset demo --to-block <a block before the fork>",
  });
});

test('requests about a block go only to endpoints in rotation whose head has it, best first', () => {
  const endpoints = [
    { index: 0, head: 120, inRotation: true, rank: 1 },
    { index: 1, head: 200, inRotation: true, rank: 30 },
    { index: 2, head: 250, inRotation: false, rank: 2 },
    { index: 3, head: undefined, inRotation: true, rank: 0 },
    { index: 4, head: 200, inRotation: true, rank: 10 },
  ];
  assert.deepEqual(endpointsWithBlock(endpoints, 100), [0, 4, 1]);
  assert.deepEqual(endpointsWithBlock(endpoints, 150), [4, 1], 'the lagging one is not asked above its head');
  assert.deepEqual(endpointsWithBlock(endpoints, 201), [], 'nobody in rotation has it: the caller refreshes heads or waits');
  assert.deepEqual(endpointsWithBlock(endpoints, undefined), [3, 0, 4, 1], 'a request about no block may go to any endpoint in rotation');
  assert.equal(describeHeads([report(0, 5), report(1, undefined)]), 'http://e0: head 5, http://e1: unreachable (connection refused)');
});

test('the status view lists endpoints when there are several, with their lag, omissions and rotation', () => {
  const endpoint = (label: string, extra: Partial<IndexerStatus['rpc'][number]> = {}): IndexerStatus['rpc'][number] => ({
    label,
    state: 'closed',
    requests: 10,
    failures: 0,
    latencyMs: 5,
    rateLimitWaits: 0,
    head: 120,
    lag: 0,
    omissions: 0,
    behind: 0,
    demoted: false,
    outOfRotation: null,
    ...extra,
  });
  assert.deepEqual(renderEndpoints([endpoint('http://a')]), [], 'one healthy endpoint: nothing to say');
  assert.deepEqual(renderEndpoints([endpoint('http://a', { head: 20, lag: 100 }), endpoint('http://b', { omissions: 2, demoted: true }), endpoint('http://c', { outOfRotation: 'serves chain 1, not 31337' })]), [
    '  rpc http://a: head 20 · 10 requests · 100 blocks behind',
    '  rpc http://b: head 120 · 10 requests · 2 omissions caught, demoted',
    '  rpc http://c: head 120 · 10 requests · out of rotation: serves chain 1, not 31337',
  ]);
});
