import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkLogAnswer, type RawLog } from '../../src/rpc/answers';

const ADDRESS = `0x${'12'.repeat(20)}`;
const TOPIC0 = `0x${'ab'.repeat(32)}`;
const filter = { fromBlock: 10, toBlock: 20, addresses: [ADDRESS], topic0s: [TOPIC0] };
const word = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

/** Three logs of block 11 in one transaction, then one of block 12: the fields a check may remember repeat. */
function answer(): RawLog[] {
  const log = (block: number, index: number, tx: number): RawLog => ({
    address: ADDRESS,
    topics: [TOPIC0, word(1000 + index)],
    data: word(index),
    blockNumber: `0x${block.toString(16)}`,
    blockHash: word(block),
    transactionHash: word(5000 + tx),
    logIndex: `0x${index.toString(16)}`,
  });
  return [log(11, 0, 1), log(11, 1, 1), log(11, 2, 1), log(12, 0, 2)];
}

test('a well-formed answer passes', () => {
  assert.equal(checkLogAnswer(answer(), filter), undefined);
  assert.equal(checkLogAnswer([], filter), undefined);
  assert.equal(checkLogAnswer({} as never, filter), 'not an array');
});

test('every field is checked on every log, also after a log of the same block and transaction passed', () => {
  const broken: Array<[string, (log: RawLog) => void, string]> = [
    ['no transaction hash', (l) => delete (l as Partial<RawLog>).transactionHash, 'a log lacks a transaction hash'],
    ['a short transaction hash', (l) => (l.transactionHash = '0x1234'), 'a log lacks a transaction hash'],
    ['another block hash for the same number', (l) => (l.blockHash = '0xzz'), 'a log lacks a block hash'],
    ['a zero block hash', (l) => (l.blockHash = `0x${'0'.repeat(64)}`), 'a log lacks a block hash'],
    ['no block number', (l) => delete (l as Partial<RawLog>).blockNumber, 'a log lacks blockNumber or logIndex'],
    ['a malformed log index', (l) => (l.logIndex = 'one'), 'a log lacks blockNumber or logIndex'],
    ['non-hex data', (l) => (l.data = '0xnothex'), 'a log lacks data'],
    ['a short topic', (l) => (l.topics[1] = '0x01'), 'a log has malformed topics'],
    ['a malformed topic0', (l) => (l.topics[0] = `${TOPIC0.slice(0, -1)}g`), 'a log has malformed topics'],
    ['a topic0 not asked for', (l) => (l.topics[0] = word(7)), `a log with topic0 ${word(7)} which was not asked for`],
    ['an address not asked for', (l) => (l.address = `0x${'34'.repeat(20)}`), `a log from 0x${'34'.repeat(20)} which was not asked for`],
    ['removed', (l) => (l.removed = true), 'a log is marked removed'],
  ];
  for (const [what, breakIt, problem] of broken) {
    for (const index of [0, 2]) {
      const logs = answer();
      breakIt(logs[index]!);
      assert.equal(checkLogAnswer(logs, filter), problem, `${what} in log ${index}`);
    }
  }
  const outside = answer();
  outside[3]!.blockNumber = '0x15';
  outside[3]!.blockHash = word(21);
  assert.equal(checkLogAnswer(outside, filter), 'a log of block 21 is outside the requested 10-20');
});
