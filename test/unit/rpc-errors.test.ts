import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeAbiParameters, toEventSelector } from 'viem';
import { fetchRange } from '../../src/activities/index-range';
import { RangeTooLargeError, RpcRequestError, RpcTimeoutError } from '../../src/errors';
import { LogRouter } from '../../src/indexing/log-router';
import { MAX_LOGS_PER_REQUEST, classifyRpcError } from '../../src/rpc/policy';
import type { LogFilter, RawLog } from '../../src/rpc/client';
import type { IndexerSpec } from '../../src/spec';

const redact = (text: string) => text.replaceAll('SECRETKEY', '…');

/** Errors as viem raises them, with providers' real wording. */
const viemError = (details: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`RPC Request failed.\n\nDetails: ${details}`), { shortMessage: 'RPC Request failed.', details, ...extra });

test('a provider refusing a getLogs range as too large is a split, whatever its wording', () => {
  for (const details of [
    'query returned more than 10000 results', // geth, Infura
    'Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range', // Alchemy
    'eth_getLogs and eth_newFilter are limited to a 10,000 blocks range', // QuickNode
    'block range is too wide', // Ankr
    'exceed maximum block range: 50000', // PublicNode
    'block range is too large, max 2000',
    'query timeout exceeded',
  ]) {
    const error = classifyRpcError('eth_getLogs', 'https://eth.example.com/…', viemError(details), redact);
    assert.ok(error instanceof RangeTooLargeError, details);
    assert.match(error.message, /^https:\/\/eth\.example\.com\/… refused the range: /);
  }
});

test('rate limiting and server errors are the endpoint\'s fault, never a split', () => {
  for (const [details, extra] of [
    ['Your app has exceeded its compute units per second capacity', {}],
    ['daily request count exceeded, request rate limited', {}], // Infura -32005: "exceeded" and "rate"
    ['Too Many Requests', { status: 429 }],
    ['block range is too large', { status: 503 }],
  ] as const) {
    const error = classifyRpcError('eth_getLogs', 'https://a/…', viemError(details, extra), redact);
    assert.ok(!(error instanceof RangeTooLargeError) && error instanceof RpcRequestError, details);
  }
  assert.ok(!(classifyRpcError('eth_getBlockByNumber', 'https://a/…', viemError('block range is too large'), redact) instanceof RangeTooLargeError), 'only getLogs ranges split');
});

test('a timeout is its own class (no flags on errors), and messages are redacted', () => {
  const timeout = classifyRpcError('eth_getLogs', 'https://a/…', Object.assign(new Error('The request took too long to respond. URL: https://a/v2/SECRETKEY'), { name: 'TimeoutError' }), redact);
  assert.ok(timeout instanceof RpcTimeoutError);
  assert.equal(timeout.name, 'RpcTimeoutError');
  assert.ok(!timeout.message.includes('SECRETKEY'));
  assert.ok(classifyRpcError('eth_call', 'https://a/…', new Error('fetch failed: ECONNREFUSED'), redact) instanceof RpcRequestError);
});

// A stand-in ChainRpc: a node with logs in every block that refuses ranges over `cap` blocks.
const transfer = { type: 'event', name: 'Transfer', inputs: [{ name: 'from', type: 'address', indexed: true }, { name: 'to', type: 'address', indexed: true }, { name: 'value', type: 'uint256' }] } as const;
const TOKEN = '0x00000000000000000000000000000000000000aa';
const spec: IndexerSpec = {
  name: 'demo',
  chainId: 1,
  chain: 'local',
  contracts: [{ name: 'Token', addresses: [TOKEN], startBlock: 0, events: [transfer] }],
  tuning: { confirmations: 0, pollIntervalMs: 1000, maxBlockRange: 2000, maxInFlight: 4, maxReorgDepth: 64, rpcTimeoutMs: 30_000 },
};
const word = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
function logsOf(from: number, to: number, perBlock: number): RawLog[] {
  const logs: RawLog[] = [];
  for (let b = from; b <= to; b++) {
    for (let i = 0; i < perBlock; i++) {
      logs.push({
        address: TOKEN,
        topics: [toEventSelector('Transfer(address,address,uint256)'), word(1), word(2)],
        data: encodeAbiParameters([{ type: 'uint256' }], [BigInt(b * 1000 + i)]),
        blockNumber: `0x${b.toString(16)}`,
        blockHash: word(b + 1_000_000),
        transactionHash: word(b * 1000 + i),
        logIndex: `0x${i.toString(16)}`,
      });
    }
  }
  return logs;
}
function standIn(cap: number, perBlock: number) {
  const asked: Array<[number, number]> = [];
  return {
    asked,
    getLogs: async (filter: LogFilter) => {
      asked.push([filter.fromBlock, filter.toBlock]);
      if (filter.toBlock - filter.fromBlock + 1 > cap) throw new RangeTooLargeError(`refused ${filter.fromBlock}-${filter.toBlock}`);
      return logsOf(filter.fromBlock, filter.toBlock, perBlock);
    },
  };
}

test('a refused range is halved until the provider accepts it, and every log arrives once', async () => {
  const rpc = standIn(25, 2);
  const out = await fetchRange(rpc, new LogRouter(spec), 0, 99);
  assert.equal(out.logs.length, 200);
  assert.equal(new Set(out.logs.map((l) => `${l.blockNumber}:${l.logIndex}`)).size, 200);
  assert.equal(out.acceptedRange, 25, 'the size the provider accepted, for the workflow to use next');
  assert.ok(out.splits >= 3);
  assert.ok(rpc.asked.every(([a, b]) => b - a + 1 <= 100));
});

test('an answer too dense to hold is halved like a refusal; a refused single block is a real fault', async () => {
  const dense = standIn(Infinity, MAX_LOGS_PER_REQUEST / 4 + 1);
  const out = await fetchRange(dense, new LogRouter(spec), 0, 7);
  assert.equal(out.logs.length, 8 * (MAX_LOGS_PER_REQUEST / 4 + 1));
  assert.ok(out.splits > 0);
  await assert.rejects(fetchRange(standIn(0, 1), new LogRouter(spec), 5, 5), RangeTooLargeError);
});
