import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { http } from 'viem';
import { ChainIdMismatchError, NON_RETRYABLE_ERROR_TYPES, RangeTooLargeError, RpcRequestError, RpcTimeoutError, SchemaMismatchError } from '../../src/errors';
import { Redactor } from '../../src/redact';
import {
  MAX_LOGS_PER_REQUEST,
  RPC_FAILURE_CLASSES,
  batchAnswerError,
  classifyRpcError,
  decisionFor,
  everyEndpointFailed,
  rpcDecision,
  rpcFailure,
  rpcFailureClass,
  splitsRange,
  type RpcDecision,
  type RpcFailureClass,
} from '../../src/rpc/policy';
import { startFakeRpc, type FakeRpc, type Reply } from '../helpers/fake-rpc';

/**
 * The RPC policy's table: real provider answers, sent by a scripted provider over HTTP and read by
 * viem's own transport (exactly what an endpoint gets), each with the class and the decision
 * expected for it. What the columns mean: RpcDecision in src/rpc/policy.ts.
 */

type Does = 'blame' | 'retry' | 'split' | 'fail over' | 'give up';
const ENDPOINT_FAULT: Does[] = ['blame', 'retry', 'fail over'];
const SPLIT: Does[] = ['split'];

function does(d: RpcDecision): Does[] {
  const out: Does[] = [];
  if (d.blame) out.push('blame');
  if (d.retry) out.push('retry');
  if (d.split) out.push('split');
  if (d.failOver) out.push('fail over');
  if (d.giveUp) out.push('give up');
  return out;
}

const rpcError = (code: number, message: string): Reply => [{ error: { code, message } }];
const jsonBody = (status: number, code: number, message: string, headers: Record<string, string> = {}): Reply => ({
  status,
  headers,
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code, message } }),
});

interface Row {
  shape: string;
  method: string;
  reply: Reply | 'refused';
  class: RpcFailureClass;
  does: Does[];
}

const LOGS = 'eth_getLogs';
const TABLE: Row[] = [
  // A range too large for the provider: split, never blamed, no other endpoint asked.
  { shape: 'Infura: -32005 "query returned more than 10000 results"', method: LOGS, reply: rpcError(-32005, 'query returned more than 10000 results'), class: 'range-refused', does: SPLIT },
  {
    shape: 'Alchemy: -32602 "Log response size exceeded. … this block range should work: [0x1, 0x7d0]"',
    method: LOGS,
    reply: rpcError(-32602, 'Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters, this block range should work: [0x1, 0x7d0]'),
    class: 'range-refused',
    does: SPLIT,
  },
  { shape: 'QuickNode: -32614 "eth_getLogs and eth_newFilter are limited to a 10,000 blocks range"', method: LOGS, reply: rpcError(-32614, 'eth_getLogs and eth_newFilter are limited to a 10,000 blocks range'), class: 'range-refused', does: SPLIT },
  { shape: 'Ankr: -32600 "block range is too wide"', method: LOGS, reply: rpcError(-32600, 'block range is too wide'), class: 'range-refused', does: SPLIT },
  { shape: 'OP Stack (Base): "block range too large"', method: LOGS, reply: rpcError(-32000, 'block range too large'), class: 'range-refused', does: SPLIT },
  { shape: 'PublicNode: "exceed maximum block range: 50000"', method: LOGS, reply: rpcError(-32000, 'exceed maximum block range: 50000'), class: 'range-refused', does: SPLIT },
  { shape: 'Chainstack: "Block range limit exceeded."', method: LOGS, reply: rpcError(-32000, 'Block range limit exceeded.'), class: 'range-refused', does: SPLIT },
  { shape: 'Avalanche: "requested too many blocks from 0 to 5000, maximum is set to 2048"', method: LOGS, reply: rpcError(-32000, 'requested too many blocks from 0 to 5000, maximum is set to 2048'), class: 'range-refused', does: SPLIT },
  { shape: 'a provider timing its own query out: "query timeout exceeded"', method: LOGS, reply: rpcError(-32000, 'query timeout exceeded'), class: 'range-refused', does: SPLIT },

  // Rate limiting, whatever its code or status: the endpoint's fault, never the range's.
  {
    shape: 'Alchemy: HTTP 429, 429 "Your app has exceeded its compute units per second capacity…"',
    method: LOGS,
    reply: jsonBody(429, 429, 'Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely ignore this message.'),
    class: 'rate-limited',
    does: ENDPOINT_FAULT,
  },
  { shape: 'Infura: -32005 "daily request count exceeded, request rate limited"', method: LOGS, reply: rpcError(-32005, 'daily request count exceeded, request rate limited'), class: 'rate-limited', does: ENDPOINT_FAULT },
  { shape: 'a gateway: HTTP 429 "Too Many Requests" with Retry-After: 2', method: LOGS, reply: { status: 429, headers: { 'content-type': 'text/plain', 'retry-after': '2' }, body: 'Too Many Requests' }, class: 'rate-limited', does: ENDPOINT_FAULT },
  { shape: '-32005 "limit exceeded" (no range in it)', method: LOGS, reply: rpcError(-32005, 'limit exceeded'), class: 'rate-limited', does: ENDPOINT_FAULT },

  // The server failed: an HTTP 5xx is never about the range, whatever its body says.
  { shape: 'Base: HTTP 503 "no backend is currently healthy to serve traffic"', method: LOGS, reply: { status: 503, headers: { 'content-type': 'text/plain' }, body: 'no backend is currently healthy to serve traffic' }, class: 'server-error', does: ENDPOINT_FAULT },
  { shape: 'HTTP 500 whose body says "block range is too large"', method: LOGS, reply: jsonBody(500, -32000, 'block range is too large'), class: 'server-error', does: ENDPOINT_FAULT },
  { shape: 'HTTP 502 Bad Gateway, an HTML page', method: LOGS, reply: { status: 502, headers: { 'content-type': 'text/html' }, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }, class: 'server-error', does: ENDPOINT_FAULT },
  { shape: 'geth: -32603 "internal error"', method: 'eth_getBlockByNumber', reply: rpcError(-32603, 'internal error'), class: 'server-error', does: ENDPOINT_FAULT },

  // No answer, or none we can read.
  { shape: 'no answer within the timeout', method: LOGS, reply: 'hang', class: 'timeout', does: ENDPOINT_FAULT },
  { shape: 'connection refused (ECONNREFUSED)', method: LOGS, reply: 'refused', class: 'unreachable', does: ENDPOINT_FAULT },
  { shape: 'socket reset without an answer', method: LOGS, reply: 'reset', class: 'unreachable', does: ENDPOINT_FAULT },
  { shape: 'a JSON answer cut short', method: LOGS, reply: { status: 200, body: '{"jsonrpc":"2.0","id":1,"result":[{"address":"0x' }, class: 'malformed', does: ENDPOINT_FAULT },
  { shape: 'HTTP 200 with an HTML page', method: LOGS, reply: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>maintenance</html>' }, class: 'malformed', does: ENDPOINT_FAULT },

  // A node that lacks the block, a reverted call, anything else: blamed and asked elsewhere, for now.
  { shape: 'geth: -32000 "header not found" (eth_call above its head)', method: 'eth_call', reply: rpcError(-32000, 'header not found'), class: 'unknown-block', does: ENDPOINT_FAULT },
  { shape: 'Infura: -32000 "unknown block"', method: LOGS, reply: rpcError(-32000, 'unknown block'), class: 'unknown-block', does: ENDPOINT_FAULT },
  {
    shape: 'Alchemy: -32000 "One of the blocks specified in filter (fromBlock, toBlock or blockHash) cannot be found."',
    method: LOGS,
    reply: rpcError(-32000, 'One of the blocks specified in filter (fromBlock, toBlock or blockHash) cannot be found.'),
    class: 'unknown-block',
    does: ENDPOINT_FAULT,
  },
  { shape: 'anvil: 3 "execution reverted: custom error 0x…"', method: 'eth_call', reply: rpcError(3, 'execution reverted: custom error 0x08c379a0'), class: 'reverted', does: ENDPOINT_FAULT },
  { shape: 'geth: -32601 "the method eth_foo does not exist/is not available"', method: 'eth_foo', reply: rpcError(-32601, 'the method eth_foo does not exist/is not available'), class: 'failed', does: ENDPOINT_FAULT },
  { shape: 'Infura: HTTP 401 "invalid project id"', method: LOGS, reply: jsonBody(401, -32002, 'invalid project id'), class: 'failed', does: ENDPOINT_FAULT },
  { shape: 'a range refusal\'s wording on another method than eth_getLogs', method: 'eth_getBlockByNumber', reply: rpcError(-32000, 'block range is too large'), class: 'failed', does: ENDPOINT_FAULT },
];

let provider: FakeRpc;
let closedUrl: string;
let reply: Reply = 'hang';
const redactor = new Redactor();

before(async () => {
  provider = await startFakeRpc(() => reply);
  redactor.addUrl(provider.url);
  const closed = await startFakeRpc(() => 'hang');
  closedUrl = closed.url;
  redactor.addUrl(closedUrl);
  await closed.stop();
});
after(() => provider.stop());

/** The error viem's http transport raises for `reply` (what Endpoint reads): no retries, a short timeout. */
async function raised(row: Row): Promise<unknown> {
  reply = row.reply === 'refused' ? 'hang' : row.reply;
  const transport = http(row.reply === 'refused' ? closedUrl : provider.url, { retryCount: 0, timeout: 300 })({ retryCount: 0 });
  try {
    await transport.request({ method: row.method as never, params: [] as never });
  } catch (error) {
    return error;
  }
  throw new Error(`${row.shape}: no error`);
}

test('the table: each provider answer has its class and decision, and its message never shows the URL\'s secret', async () => {
  const redact = (text: string) => redactor.redact(text);
  for (const row of TABLE) {
    const error = await raised(row);
    assert.equal(rpcFailureClass(row.method, error, redact), row.class, row.shape);
    const classified = classifyRpcError(row.method, 'http://127.0.0.1/…', error, redact);
    assert.deepEqual(does(rpcDecision(classified)), row.does, row.shape);
    assert.deepEqual(does(decisionFor(row.class)), row.does, `${row.shape}: the class's row says the same`);
    assert.ok(!classified.message.includes('SECRETKEY'), `${row.shape}: ${classified.message}`);
  }
});

test('a JSON-RPC error inside a batch answer is classified like the same error alone', () => {
  for (const [code, message, cls] of [
    [-32005, 'query returned more than 10000 results', 'range-refused'],
    [429, 'Your app has exceeded its compute units per second capacity', 'rate-limited'],
    [-32000, 'header not found', 'unknown-block'],
    [3, 'execution reverted', 'reverted'],
  ] as const) {
    assert.equal(rpcFailureClass(LOGS, batchAnswerError({ code, message })), cls, message);
  }
});

test('the error type carries the decision: whoever catches it later decides what the class said', () => {
  // Blame is decided once, where the failure happens; these three are raised past that point.
  const blamedElsewhere = new Set<RpcFailureClass>(['breaker-open', 'no-endpoint', 'conflict']);
  for (const cls of RPC_FAILURE_CLASSES) {
    if (cls === 'not-rpc') continue;
    const expected = decisionFor(cls);
    const later = rpcDecision(rpcFailure(cls, 'x'));
    assert.deepEqual({ ...later, class: cls, blame: blamedElsewhere.has(cls) ? expected.blame : later.blame }, expected, cls);
  }
});

test('answers and our own failures: lag and other chains, open breakers, conflicts, a wrong chain id, and what is not the RPC\'s', () => {
  const cases: Array<[string, unknown, RpcFailureClass, Does[]]> = [
    ['the node lags behind the block asked about', rpcFailure('behind', 'x'), 'behind', ['retry', 'fail over']],
    ['the answer came from another chain', rpcFailure('misrouted', 'x'), 'misrouted', ENDPOINT_FAULT],
    ['a malformed answer', rpcFailure('malformed', 'x'), 'failed', ENDPOINT_FAULT],
    ['cockatiel: the breaker is open', Object.assign(new Error('Execution prevented because the circuit breaker is open'), { isBrokenCircuitError: true }), 'breaker-open', ['retry', 'fail over']],
    ['two endpoints disagree', rpcFailure('conflict', 'x'), 'failed', ENDPOINT_FAULT],
    ['every endpoint timed out on a range', new RangeTooLargeError('x'), 'range-refused', SPLIT],
    ['the endpoint serves another chain than the config', new ChainIdMismatchError('x'), 'wrong-chain', ['give up']],
    ['a database error', new Error('connection terminated'), 'not-rpc', []],
    ['a table that does not match the ABI', new SchemaMismatchError('x'), 'not-rpc', ['give up']],
  ];
  for (const [what, error, cls, expected] of cases) {
    const decision = rpcDecision(error);
    assert.equal(decision.class, cls, what);
    assert.deepEqual(does(decision), expected, what);
  }
  assert.deepEqual(does(decisionFor('conflict')), ['retry', 'fail over'], 'a conflict blames nobody');
  assert.deepEqual(does(decisionFor('no-endpoint')), ['retry', 'fail over']);
});

test('give up is exactly what Temporal does not retry', () => {
  const gaveUp = RPC_FAILURE_CLASSES.filter((cls) => decisionFor(cls).giveUp);
  assert.deepEqual(gaveUp, ['wrong-chain']);
  assert.ok(NON_RETRYABLE_ERROR_TYPES.includes(rpcFailure('wrong-chain', 'x').name));
  for (const cls of RPC_FAILURE_CLASSES) if (cls !== 'not-rpc' && cls !== 'wrong-chain') assert.ok(!NON_RETRYABLE_ERROR_TYPES.includes(rpcFailure(cls, 'x').name), cls);
});

test('when every endpoint fails: a getLogs range they all timed out on is split; one failure is itself; several are one retryable error', () => {
  const timeout = (label: string) => ({ label, error: new RpcTimeoutError(`RPC eth_getLogs to ${label} failed: timed out`) });
  const down = { label: 'c', error: new RpcRequestError('RPC eth_getLogs to c failed: HTTP 503') };

  const split = everyEndpointFailed('eth_getLogs', [timeout('a'), timeout('b')]);
  assert.ok(split instanceof RangeTooLargeError);
  assert.match(split.message, /timed out on every endpoint \(a, b\); splitting the range/);
  assert.deepEqual(does(rpcDecision(split)), SPLIT);

  const mixed = everyEndpointFailed('eth_getLogs', [timeout('a'), down]);
  assert.equal(mixed.name, 'RpcRequestError');
  assert.match(mixed.message, /^RPC eth_getLogs failed on all 2 endpoints: RPC eth_getLogs to a failed: timed out; RPC eth_getLogs to c failed: HTTP 503$/);
  assert.deepEqual(does(rpcDecision(mixed)), ENDPOINT_FAULT);

  assert.equal(everyEndpointFailed('eth_getLogs', [down]), down.error);
  assert.ok(!(everyEndpointFailed('eth_getBlockByNumber', [timeout('a'), timeout('b')]) instanceof RangeTooLargeError), 'only getLogs ranges split');
  assert.ok(everyEndpointFailed('eth_getLogs', [timeout('a')]) instanceof RangeTooLargeError, 'a lone endpoint timing out counts too');
});

test('splitting a range: refused or too dense, and never a single block', () => {
  const refused = { error: new RangeTooLargeError('x') };
  assert.equal(splitsRange({ from: 10, to: 20 }, refused), true);
  assert.equal(splitsRange({ from: 10, to: 10 }, refused), false, 'a refused single block is a real fault');
  assert.equal(splitsRange({ from: 10, to: 20 }, { error: new RpcTimeoutError('x') }), false, 'one timeout is retried, not split');
  assert.equal(splitsRange({ from: 10, to: 20 }, { logs: MAX_LOGS_PER_REQUEST + 1 }), true);
  assert.equal(splitsRange({ from: 10, to: 20 }, { logs: MAX_LOGS_PER_REQUEST }), false);
  assert.equal(splitsRange({ from: 10, to: 10 }, { logs: MAX_LOGS_PER_REQUEST * 2 }), false);
});

test('the policy is pure: it imports nothing but ../errors (workflow code may import it)', () => {
  const text = readFileSync(new URL('../../src/rpc/policy.ts', import.meta.url), 'utf8');
  const imports = [...text.matchAll(/^(?:import|export)\s[^'";]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
  assert.deepEqual(imports, ['../errors']);
});
