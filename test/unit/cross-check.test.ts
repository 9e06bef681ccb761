import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeBlocks, effectiveCrossCheck, isSampled, mergeLogAnswers, type ComparableLog } from '../../src/rpc/cross-check';

const HASH_A = `0x${'aa'.repeat(32)}`;
const HASH_B = `0x${'bb'.repeat(32)}`;

function log(block: number, index: number, options: { blockHash?: string; data?: string } = {}): ComparableLog {
  return {
    blockNumber: `0x${block.toString(16)}`,
    blockHash: options.blockHash ?? HASH_A,
    logIndex: `0x${index.toString(16)}`,
    transactionHash: `0x${block.toString(16).padStart(32, '0')}${index.toString(16).padStart(32, '0')}`,
    address: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
    topics: [`0x${'dd'.repeat(32)}`],
    data: options.data ?? '0x01',
  };
}

const keys = (logs: ComparableLog[]) => logs.map((l) => `${Number(l.blockNumber)}:${Number(l.logIndex)}`);

test('identical answers merge to the same logs with no omission', () => {
  const logs = [log(5, 0), log(5, 1), log(9, 0)];
  const merged = mergeLogAnswers([
    { source: 0, logs },
    { source: 1, logs: [...logs].reverse() },
  ]);
  assert.equal(merged.conflict, undefined);
  assert.deepEqual(keys(merged.logs), ['5:0', '5:1', '9:0']);
  assert.equal(merged.omissions.size, 0);
});

test('a log one endpoint dropped from a block with others is kept, and the omitter named', () => {
  const honest = [log(5, 0), log(5, 1), log(5, 2), log(9, 0)];
  const liar = [log(5, 0), log(5, 2), log(9, 0)];
  const merged = mergeLogAnswers([
    { source: 0, logs: liar },
    { source: 1, logs: honest },
  ]);
  assert.deepEqual(keys(merged.logs), ['5:0', '5:1', '5:2', '9:0']);
  assert.deepEqual([...merged.omissions], [[0, { logs: 1, blocks: [5] }]]);
});

test('each endpoint missing what the other had: both are omitters, the union is kept', () => {
  const merged = mergeLogAnswers([
    { source: 3, logs: [log(1, 0), log(2, 0)] },
    { source: 7, logs: [log(2, 0), log(3, 0), log(3, 1)] },
  ]);
  assert.deepEqual(keys(merged.logs), ['1:0', '2:0', '3:0', '3:1']);
  assert.deepEqual(merged.omissions.get(3), { logs: 2, blocks: [3] });
  assert.deepEqual(merged.omissions.get(7), { logs: 1, blocks: [1] });
});

test('one block at two hashes (endpoints on different forks) is a conflict, not a merge', () => {
  const merged = mergeLogAnswers([
    { source: 0, logs: [log(5, 0)] },
    { source: 1, logs: [log(5, 0, { blockHash: HASH_B })] },
  ]);
  assert.match(merged.conflict ?? '', /block 5 has hash 0xa+ at one endpoint and 0xb+ at another/);
  assert.deepEqual(merged.logs, []);
  // Different logs of one block at two hashes are a conflict too.
  assert.ok(mergeLogAnswers([{ source: 0, logs: [log(5, 0)] }, { source: 1, logs: [log(5, 1, { blockHash: HASH_B })] }]).conflict);
});

test('one log position with two contents means one endpoint lies: a conflict', () => {
  const merged = mergeLogAnswers([
    { source: 0, logs: [log(5, 0)] },
    { source: 1, logs: [log(5, 0, { data: '0x02' })] },
  ]);
  assert.match(merged.conflict ?? '', /log 0 of block 5 differs/);
});

test('crossCheck defaults to "all" with two endpoints and does nothing with one', () => {
  assert.equal(effectiveCrossCheck(undefined, 2), 'all');
  assert.equal(effectiveCrossCheck(undefined, 1), 'off');
  assert.equal(effectiveCrossCheck('all', 1), 'off');
  assert.equal(effectiveCrossCheck('sample', 3), 'sample');
  assert.equal(effectiveCrossCheck('off', 3), 'off');
});

test('"sample" picks about one range in ten, the same ranges every time', () => {
  let sampled = 0;
  for (let from = 0; from < 100_000; from += 100) if (isSampled(from, from + 99)) sampled += 1;
  assert.ok(sampled >= 80 && sampled <= 120, `${sampled} of 1000 ranges sampled`);
  for (let from = 0; from < 10_000; from += 100) assert.equal(isSampled(from, from + 99), isSampled(from, from + 99));
});

test('blocks are described as short runs', () => {
  assert.equal(describeBlocks([9, 7, 10, 11, 30, 7]), '7, 9-11, 30');
  assert.equal(describeBlocks([1, 3, 5, 7, 9, 11, 13, 15], 3), '1, 3, 5 …');
});
