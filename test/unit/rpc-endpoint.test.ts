import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RangeTooLargeError } from '../../src/errors';
import { checkLogAnswer, type RawLog } from '../../src/rpc/answers';
import { ChainRpc } from '../../src/rpc/client';
import { Endpoint } from '../../src/rpc/endpoint';
import { rpcDecision, type RpcFailureClass } from '../../src/rpc/policy';
import { CHAIN_ID, chain, startFakeRpc, type Call, type CallAnswer, type FakeRpc, type Script } from '../helpers/fake-rpc';

/**
 * Endpoint and ChainRpc against a scripted provider: what an answer counts against the endpoint
 * is the policy's, the same for a single call and for a batch, and one failover loop serves both.
 */

const providers: FakeRpc[] = [];
after(() => Promise.all(providers.map((p) => p.stop())));

async function provider(script: Script): Promise<FakeRpc> {
  const p = await startFakeRpc(script);
  providers.push(p);
  return p;
}

const word = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
const FILTER = { fromBlock: 10, toBlock: 20, addresses: ['0x00000000000000000000000000000000000000aa'], topic0s: [word(7)] };
const LOGS_PARAMS = [{ fromBlock: '0xa', toBlock: '0x14', address: FILTER.addresses, topics: [FILTER.topic0s] }];
const checkLogs = (logs: RawLog[]) => checkLogAnswer(logs, FILTER);
const logAt = (block: number): RawLog => ({ address: FILTER.addresses[0]!, topics: [word(7)], data: '0x', blockNumber: `0x${block.toString(16)}`, blockHash: word(block + 1000), transactionHash: word(block), logIndex: '0x0' });
const tx = (hash: string) => ({ hash, blockHash: word(99), from: '0x00000000000000000000000000000000000000bb', value: '0x1' });

interface Case {
  what: string;
  script: Script;
  method: string;
  params: unknown[];
  needs?: number;
  check?: (result: never) => string | undefined;
  class: RpcFailureClass;
  /** What it counts against the endpoint: failures (blame) and answers from behind its head. */
  failures: number;
  behind: number;
}

const CASES: Case[] = [
  {
    what: 'eth_chainId in the batch says another chain',
    script: (calls) => calls.map((c) => (c.method === 'eth_chainId' ? { result: '0x1' } : { result: [] })),
    method: 'eth_getLogs',
    params: LOGS_PARAMS,
    needs: 20,
    class: 'misrouted',
    failures: 1,
    behind: 0,
  },
  { what: 'eth_blockNumber in the batch is below the block asked about', script: chain(() => ({ result: [] }), 15), method: 'eth_getLogs', params: LOGS_PARAMS, needs: 20, class: 'behind', failures: 0, behind: 1 },
  { what: 'a null header for a block asked about', script: chain(() => ({ result: null })), method: 'eth_getBlockByNumber', params: ['0x14', false], needs: 20, class: 'behind', failures: 0, behind: 1 },
  { what: 'a log outside the range asked for', script: chain(() => ({ result: [logAt(21)] })), method: 'eth_getLogs', params: LOGS_PARAMS, needs: 20, check: checkLogs as never, class: 'failed', failures: 1, behind: 0 },
  {
    what: 'a range refused as too large',
    script: chain(() => ({ error: { code: -32005, message: 'query returned more than 10000 results' } })),
    method: 'eth_getLogs',
    params: LOGS_PARAMS,
    needs: 20,
    class: 'range-refused',
    failures: 0,
    behind: 0,
  },
  { what: 'HTTP 503', script: () => ({ status: 503, headers: { 'content-type': 'text/plain' }, body: 'Service Unavailable' }), method: 'eth_getLogs', params: LOGS_PARAMS, needs: 20, class: 'failed', failures: 1, behind: 0 },
  { what: 'no answer in time', script: () => 'hang', method: 'eth_getTransactionByHash', params: [word(1)], class: 'timeout', failures: 1, behind: 0 },
];

test('what an answer or error counts against the endpoint is the policy\'s, alike for a single call and a batch', async () => {
  for (const c of CASES) {
    const p = await provider(c.script);
    for (const how of ['call', 'callEach'] as const) {
      const endpoint = new Endpoint(p.url, { timeoutMs: 300, chainId: CHAIN_ID });
      const asked =
        how === 'call'
          ? endpoint.call(c.method, c.params, c.check, { needs: c.needs })
          : endpoint.callEach(c.method, [c.params, c.params], c.check && ((r: never) => c.check!(r)), { needs: c.needs });
      const error = await asked.then(
        () => assert.fail(`${c.what} (${how}): no error`),
        (e: unknown) => e,
      );
      assert.equal(rpcDecision(error).class, c.class, `${c.what} (${how}): ${String(error)}`);
      const { failures, behind } = endpoint.health;
      assert.deepEqual({ failures, behind }, { failures: c.failures, behind: c.behind }, `${c.what} (${how})`);
      assert.equal(endpoint.health.outOfRotation !== null, c.class === 'misrouted', `${c.what} (${how}): out of rotation only when misrouted`);
    }
  }
});

test('a refused range never counts against the endpoint, in a batch either (it used to count as a failure there); a 503 does, and opens the breaker', async () => {
  let down = false;
  const p = await provider((calls) => (down ? { status: 503, headers: { 'content-type': 'text/plain' }, body: 'Service Unavailable' } : chain(() => ({ error: { code: -32005, message: 'query returned more than 10000 results' } }))(calls, true)));
  const endpoint = new Endpoint(p.url, { timeoutMs: 300, chainId: CHAIN_ID, breakerThreshold: 2 });
  for (let i = 0; i < 5; i++) {
    await assert.rejects(endpoint.callEach('eth_getLogs', [LOGS_PARAMS, LOGS_PARAMS], undefined, { needs: 20 }), RangeTooLargeError);
    await assert.rejects(endpoint.call('eth_getLogs', LOGS_PARAMS, undefined, { needs: 20 }), RangeTooLargeError);
  }
  assert.equal(endpoint.health.failures, 0);
  assert.equal(endpoint.state, 'closed');
  assert.equal(endpoint.rank(), 0, 'its rank is untouched: refusals are no error rate');

  down = true;
  await assert.rejects(endpoint.callEach('eth_getTransactionByHash', [[word(1)], [word(2)]]), /HTTP request failed/);
  await assert.rejects(endpoint.call('eth_getTransactionByHash', [word(1)]), /HTTP request failed/);
  assert.equal(endpoint.state, 'open');
  const requests = endpoint.health.requests;
  await assert.rejects(endpoint.callEach('eth_getTransactionByHash', [[word(1)]]), /circuit breaker open; last error: RPC eth_getTransactionByHash to http:\/\/127\.0\.0\.1:\d+\/… failed: HTTP request failed/);
  assert.deepEqual({ failures: endpoint.health.failures, requests: endpoint.health.requests }, { failures: 2, requests }, 'an open breaker asks nothing and counts nothing');
});

test('an endpoint that refuses batches gets single requests, for several calls as for one (several used to fail on the chain id)', async () => {
  const answer = (c: Call): CallAnswer => (c.method === 'eth_getTransactionByHash' ? { result: tx(String(c.params[0])) } : { result: null });
  const p = await provider((calls, batch) =>
    batch ? { status: 200, body: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'batch requests are not supported' } }) } : chain(answer)(calls, false),
  );
  const endpoint = new Endpoint(p.url, { timeoutMs: 300, chainId: CHAIN_ID });
  const txs = await endpoint.callEach<{ hash: string }>('eth_getTransactionByHash', [[word(1)], [word(2)]]);
  assert.deepEqual(
    txs.map((t) => t.hash),
    [word(1), word(2)],
  );
  assert.deepEqual(p.requests.slice(1), [
    { batch: false, methods: ['eth_chainId'] },
    { batch: false, methods: ['eth_getTransactionByHash'] },
    { batch: false, methods: ['eth_getTransactionByHash'] },
  ]);
  assert.equal(endpoint.health.failures, 0);
});

test('ChainRpc: one failover loop serves single calls and batches, and says what to do when every endpoint fails', async () => {
  const failingData = (failure: 'hang' | { status: number; headers: Record<string, string>; body: string }): Script => (calls, batch) =>
    calls.some((c) => c.method !== 'eth_chainId' && c.method !== 'eth_blockNumber') ? failure : chain(() => ({ result: null }))(calls, batch);
  const a = await provider(failingData({ status: 503, headers: { 'content-type': 'text/plain' }, body: 'Service Unavailable' }));
  const b = await provider(failingData({ status: 502, headers: { 'content-type': 'text/plain' }, body: 'Bad Gateway' }));
  const rpc = new ChainRpc(CHAIN_ID, [a.url, b.url], { timeoutMs: 300, crossCheck: 'off', breakerThreshold: 50 });
  await rpc.probeHeads();

  await assert.rejects(rpc.getTransactions([word(1), word(2)], 50), /^RpcRequestError: RPC eth_getTransactionByHash failed on all 2 endpoints: .*(Service Unavailable.*; .*Bad Gateway|Bad Gateway.*; .*Service Unavailable)/);
  await assert.rejects(rpc.getBlockHeader(50), /^RpcRequestError: RPC eth_getBlockByNumber failed on all 2 endpoints: /);
  for (const h of rpc.health()) assert.equal(h.failures, 6, `${h.label}: asked three times (two quick retries) per request, single or batch`);

  // The second endpoint answers: whichever is asked first, the answer arrives.
  b.script = chain((c) => (c.method === 'eth_getTransactionByHash' ? { result: tx(String(c.params[0])) } : { result: null }));
  const txs = await rpc.getTransactions([word(1), word(2)], 50);
  assert.deepEqual(
    txs.map((t) => t.hash),
    [word(1), word(2)],
  );

  // Every endpoint times out on one getLogs range: it is split, not retried.
  a.script = failingData('hang');
  b.script = failingData('hang');
  const started = Date.now();
  await assert.rejects(rpc.getLogs(FILTER), (e: unknown) => e instanceof RangeTooLargeError && /timed out on every endpoint/.test(e.message));
  assert.ok(Date.now() - started < 1_500, 'one round: no quick retries of a range to split');
});
