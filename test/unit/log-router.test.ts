import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeAbiParameters, toEventSelector } from 'viem';
import { TRANSFER_EVENT } from '../helpers/abis';
import { RpcRequestError } from '../../src/errors';
import { LogRouter } from '../../src/indexing/log-router';
import type { RawLog } from '../../src/rpc/client';
import type { IndexerSpec } from '../../src/spec';

const transfer = TRANSFER_EVENT;
const TOKEN = '0x00000000000000000000000000000000000000aa';
const OTHER = '0x00000000000000000000000000000000000000bb';
const spec: IndexerSpec = {
  name: 'demo',
  chainId: 1,
  chain: 'local',
  contracts: [{ name: 'Token', addresses: [TOKEN], startBlock: 10, endBlock: 20, events: [transfer] }],
  tuning: { confirmations: 0, pollIntervalMs: 1000, maxBlockRange: 2000, maxInFlight: 4, maxReorgDepth: 64, rpcTimeoutMs: 30_000 },
};
const topic = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

function log(overrides: Partial<RawLog> = {}): RawLog {
  return {
    address: TOKEN.toUpperCase().replace('0X', '0x'),
    topics: [toEventSelector('Transfer(address,address,uint256)').toUpperCase().replace('0X', '0x'), topic(1), topic(2)],
    data: encodeAbiParameters([{ type: 'uint256' }], [10n ** 18n]),
    blockNumber: '0xc',
    blockHash: `0x${'AB'.repeat(32)}`,
    logIndex: '0x3',
    transactionHash: `0x${'CD'.repeat(32)}`,
    ...overrides,
  } as RawLog;
}

test('logs go to the table of their (address, topic0), whatever the case of the hex', () => {
  const router = new LogRouter(spec);
  assert.deepStrictEqual(router.decode(log()), {
    table: 'token_transfer',
    blockNumber: 12,
    blockHash: `0x${'ab'.repeat(32)}`,
    blockTimestamp: null,
    logIndex: 3,
    txHash: `0x${'cd'.repeat(32)}`,
    txIndex: null,
    address: TOKEN,
    args: [`0x${'0'.repeat(39)}1`, `0x${'0'.repeat(39)}2`, '1000000000000000000'],
  });
  const withBlockFields = router.decode(log({ blockTimestamp: '0x6b0f534f', transactionIndex: '0x2' }))!;
  assert.equal(withBlockFields.blockTimestamp, 0x6b0f534f, "the log's blockTimestamp where the RPC gives it");
  assert.equal(withBlockFields.txIndex, 2);
  assert.equal(router.decode(log({ address: OTHER })), undefined, 'another address');
  assert.equal(router.decode(log({ topics: [topic(9), topic(1), topic(2)] })), undefined, 'another event');
  assert.equal(router.decode(log({ blockNumber: '0x9' })), undefined, 'before startBlock');
  assert.equal(router.decode(log({ blockNumber: '0x15' })), undefined, 'after endBlock');
  assert.ok(router.decode(log({ blockNumber: '0x14' })), 'endBlock itself');
});

test('a block number or log index that is not a hex quantity is an unusable RPC answer (retried), not NaN in a row', () => {
  const router = new LogRouter(spec);
  for (const bad of [{ blockNumber: '0x' }, { blockNumber: '12' }, { logIndex: '0xzz' }, { blockNumber: `0x${'f'.repeat(20)}` }]) {
    assert.throws(() => router.decode(log(bad)), RpcRequestError, JSON.stringify(bad));
  }
});
