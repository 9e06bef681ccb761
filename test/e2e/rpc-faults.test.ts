import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Address } from 'viem';
import { FAST_MINING_ANVIL_ARGS, seedEmitter } from '../helpers/chain';
import { startFaultProxy, type FaultKind, type FaultProxy } from '../helpers/fault-proxy';
import { e2e } from '../helpers/fixture';
import { specsFrom, startIndexer, status, waitForCheckpoint, waitForStatus } from '../helpers/indexer';
import { assertMatchesChain, type TableExpectation } from '../helpers/oracle';
import { freePort } from '../helpers/ports';
import { compileFixture } from '../helpers/solidity';
import { uniqueName } from '../helpers/stack';
import { startInProcessWorker, type RunningWorker } from '../helpers/workers';
import { indexerWorkflowId, type IndexerSpec } from '../../src/spec';
import type { IndexerStatus } from '../../src/workflows/messages';

/**
 * The resilient RPC layer against a misbehaving provider: a fault-injecting JSON-RPC proxy sits
 * between a real worker and a real anvil, and each test switches one kind of fault on. Whatever
 * the provider does, the tables must end up equal to the chain row by row, and the fault must
 * really have fired. Real Temporal dev server, PostgreSQL and anvil throughout.
 */

const emitter = compileFixture('Emitter');
const TABLE = 'emitter_transfer';
const TABLES: TableExpectation[] = [{ signature: 'Transfer(address,address,uint256)', table: TABLE, columns: ['from', 'to', 'value'] }];
/** The most logs any one block carries: a range refusal by result count must stay above it. */
const MAX_LOGS_PER_BLOCK = 60;
/** How long every endpoint stays down in the outage test, at least and at most. */
const OUTAGE_MS = 10_000;
const MAX_OUTAGE_MS = 30_000;

let address: Address;
let head: number;
let totalLogs = 0;
const fx = e2e({
  chain: { anvilArgs: FAST_MINING_ANVIL_ARGS },
  setup: async ({ chain }) => {
    // A dense stretch (one busy block after another), then logs every few dozen blocks: ~2 600 logs
    // over ~1 300 blocks, so ranges of 50–200 blocks carry from none to hundreds of logs.
    const seeded = await seedEmitter(chain, emitter, {
      txs: 50,
      logs: (salt) => (salt <= 10n ? BigInt(MAX_LOGS_PER_BLOCK) : 40n),
      mine: (salt) => (salt > 10n ? Number(salt % 7n) * 8 + 6 : 0),
    });
    ({ address, totalLogs } = seeded);
    await fx.chain.mine(20);
    head = Number(await fx.chain.publicClient.getBlockNumber());
  },
});

interface Tuning {
  maxBlockRange?: number;
  maxInFlight?: number;
  rpcTimeoutMs?: number;
}

function specFor(name: string, tuning: Tuning = {}): IndexerSpec {
  const [spec] = specsFrom({
    name,
    chains: { local: { id: fx.chain.chainId, maxBlockRange: 100, maxInFlight: 3, rpcTimeoutMs: 5_000, pollIntervalMs: 200, ...tuning } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi, endBlock: head }],
  });
  return spec!;
}

async function workerFor(name: string, urls: string[]): Promise<RunningWorker> {
  const worker = await startInProcessWorker(fx.stack, { taskQueue: name, rpc: { [fx.chain.chainId]: urls } });
  fx.defer(() => worker.stop());
  return worker;
}

/** An indexer of the chain (specFor) with a worker on `urls`, started. */
async function startIndexing(name: string, urls: string[], tuning: Tuning = {}): Promise<{ spec: IndexerSpec; worker: RunningWorker }> {
  const spec = specFor(name, tuning);
  const worker = await workerFor(name, urls);
  await startIndexer(fx.stack.client, spec, name);
  return { spec, worker };
}

async function proxyFor(): Promise<FaultProxy> {
  const proxy = await startFaultProxy(fx.chain.url);
  fx.defer(() => proxy.stop());
  return proxy;
}

/** Every stored row equals the chain's, and no row lies outside the indexed blocks. */
async function assertExactlyTheChain(name: string): Promise<number> {
  const { rows } = await assertMatchesChain(fx.stack.db, fx.chain.publicClient, { schema: name, abi: emitter.abi, address, chainId: fx.chain.chainId, toBlock: BigInt(head), tables: TABLES });
  assert.equal(rows, totalLogs, 'every log of the chain is stored');
  const { rows: all } = await fx.stack.db.query<{ n: string }>(`SELECT count(*) AS n FROM "${name}"."${TABLE}"`);
  assert.equal(Number(all[0]!.n), totalLogs, 'no row beyond the indexed blocks either (no log from outside a requested range)');
  return rows;
}

/** Activity attempts beyond the first (retries after a failure), summed over the workflow's history. */
async function activityRetries(spec: IndexerSpec): Promise<{ retries: number; failedToWorkflow: number }> {
  const history = await fx.stack.client.workflow.getHandle(indexerWorkflowId(spec.name, spec.chainId)).fetchHistory();
  let retries = 0;
  let failedToWorkflow = 0;
  for (const event of history.events ?? []) {
    const attempt = event.activityTaskStartedEventAttributes?.attempt;
    if (attempt) retries += attempt - 1;
    if (event.activityTaskFailedEventAttributes) failedToWorkflow += 1;
  }
  return { retries, failedToWorkflow };
}

function describeRpc(s: IndexerStatus): string {
  return s.rpc.map((e) => `${e.label} ${e.state} requests=${e.requests} failures=${e.failures} latency=${e.latencyMs}ms`).join('; ');
}

/**
 * One backfill of the whole chain through a proxy with one fault switched on; the data must be
 * exactly the chain's and the fault must have fired.
 */
async function backfillThroughFault(
  t: TestContext,
  kind: FaultKind,
  arm: (proxy: FaultProxy) => void,
  tuning: Tuning = {},
  check?: (final: IndexerStatus, proxy: FaultProxy) => void,
): Promise<void> {
  const started = Date.now();
  const name = uniqueName(`fault ${kind}`);
  const proxy = await proxyFor();
  arm(proxy);
  const { spec, worker } = await startIndexing(name, [proxy.url('/v2/secret-key')], tuning);
  const final = await waitForCheckpoint(fx.stack.client, spec, head, 150_000);
  await worker.stop();
  const rows = await assertExactlyTheChain(name);
  assert.ok(proxy.counts[kind] > 0, `the ${kind} fault fired (counts: ${JSON.stringify(proxy.counts)})`);
  assert.equal(final.rpc.length, 1, 'one endpoint in the status');
  check?.(final, proxy);
  const { retries, failedToWorkflow } = await activityRetries(spec);
  t.diagnostic(
    `${kind}: fired ${proxy.counts[kind]}× in ${proxy.stats.requests} requests; ${rows} rows; activity retries ${retries}, failures reaching the workflow ${failedToWorkflow}; ` +
      `mode ${final.mode}; rpc ${describeRpc(final)}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

// Periodic transport faults are bounded (`times`): one range activity near the head asks for every
// block header there (maxReorgDepth of them) and fails as a whole on any one failed request, so a
// fault on every Nth request for ever would fail each of its attempts (the todo test at the end).
// The 429 body here is an Alchemy-style `{"code":429,…}`; Infura's -32005 variant is a todo below.
test('HTTP 429 bursts: rate-limited requests are retried, nothing is lost', { timeout: 180_000 }, async (t) => {
  await backfillThroughFault(t, 'http429', (p) => p.fault('http429', { every: 12, burst: 3, times: 9 }));
});

test('HTTP 500s are retried', { timeout: 180_000 }, async (t) => {
  await backfillThroughFault(t, 'http500', (p) => p.fault('http500', { every: 5, times: 6 }));
});

test('connection resets (socket destroyed, no answer) are retried', { timeout: 180_000 }, async (t) => {
  await backfillThroughFault(t, 'reset', (p) => p.fault('reset', { every: 5, times: 6 }));
});

test('requests held past rpcTimeoutMs time out; the request is retried or its getLogs range split', { timeout: 180_000 }, async (t) => {
  await backfillThroughFault(t, 'timeout', (p) => p.fault('timeout', { every: 6, times: 6, holdMs: 3_000 }), { rpcTimeoutMs: 1_000 });
});

test('truncated JSON answers are retried, never parsed into rows', { timeout: 180_000 }, async (t) => {
  await backfillThroughFault(t, 'truncate', (p) => p.fault('truncate', { every: 4, times: 6 }));
});

test('"query returned more than 10000 results": the range is split until the answers fit', { timeout: 180_000 }, async (t) => {
  await backfillThroughFault(t, 'tooManyResults', (p) => p.fault('tooManyResults', { maxLogs: 2 * MAX_LOGS_PER_BLOCK + 10 }), { maxBlockRange: 200 }, (final) => {
    assert.equal(final.rpc[0]!.failures, 0, 'a range refusal is not held against the endpoint');
    assert.equal(final.lastError, null);
  });
});

test('"block range is too large": the range is split to the provider cap', { timeout: 180_000 }, async (t) => {
  await backfillThroughFault(t, 'rangeCap', (p) => p.fault('rangeCap', { maxRange: 60 }), { maxBlockRange: 200 }, (final) => {
    assert.equal(final.rpc[0]!.failures, 0, 'a range refusal is not held against the endpoint');
    assert.equal(final.lastError, null);
  });
});

test('logs outside the requested range fail validation: retried, never stored', { timeout: 180_000 }, async (t) => {
  await backfillThroughFault(t, 'outsideRange', (p) => p.fault('outsideRange', { every: 3 }), {}, (final, proxy) => {
    assert.ok(final.rpc[0]!.failures >= proxy.counts.outsideRange, 'an answer failing validation counts as the endpoint\'s failure');
  });
});

test('two endpoints, one dead all along: the other serves everything and the dead one\'s breaker is open', { timeout: 180_000 }, async (t) => {
  const name = uniqueName('dead endpoint');
  const live = await proxyFor();
  const deadPort = await freePort(); // nobody listens here
  const deadUrl = `http://127.0.0.1:${deadPort}/v2/dead-key`;
  const { spec, worker } = await startIndexing(name, [deadUrl, live.url('/v2/live-key')]);
  const final = await waitForCheckpoint(fx.stack.client, spec, head, 120_000);
  await worker.stop();
  await assertExactlyTheChain(name);

  assert.equal(final.rpc.length, 2, `two endpoints in the status: ${describeRpc(final)}`);
  const dead = final.rpc.find((e) => e.label.includes(`:${deadPort}`));
  const alive = final.rpc.find((e) => e.label.includes(`:${live.port}`));
  assert.ok(dead && alive, `both endpoints appear by label: ${describeRpc(final)}`);
  assert.ok(!JSON.stringify(final.rpc).includes('dead-key') && !JSON.stringify(final.rpc).includes('live-key'), 'labels are redacted');
  assert.equal(dead.state, 'open', `the dead endpoint's breaker is open: ${describeRpc(final)}`);
  assert.ok(dead.failures >= 5, 'the dead endpoint failed enough times to open its breaker');
  assert.equal(dead.requests, dead.failures, 'the dead endpoint never answered');
  assert.equal(alive.state, 'closed');
  assert.equal(alive.failures, 0, 'the live endpoint never failed');
  assert.ok(alive.requests > 0 && live.stats.requests >= alive.requests, 'the live endpoint served the requests');
  t.diagnostic(`rpc: ${describeRpc(final)}; live proxy saw ${live.stats.requests} requests`);
});

test('every endpoint down for a while mid-backfill: lastError shows it, then the indexer catches up with nothing lost', { timeout: 180_000 }, async (t) => {
  const name = uniqueName('outage');
  const proxy = await proxyFor();
  proxy.setDelay(25); // a backfill slow enough to be interrupted mid-way
  const { spec, worker } = await startIndexing(name, [proxy.url('/v2/outage-key')], { maxBlockRange: 50, maxInFlight: 2 });

  const quarter = Math.floor(head / 4);
  const before = await waitForStatus(fx.stack.client, spec, 'a quarter of the backfill', (s) => s.checkpoint >= quarter, 60_000, 50);
  await proxy.stop();
  const downAt = Date.now();
  assert.ok(before.checkpoint < head, `stopped mid-backfill (checkpoint ${before.checkpoint} of ${head})`);

  // While every endpoint is down: the workflow keeps running and says what is wrong. It stays down
  // at least OUTAGE_MS, and on until the status shows it: an activity only fails into the workflow
  // once its own retries are spent (attempts at 0, 1, 3, 7, 15 s), so a shorter outage never shows.
  let errorWhileDown: string | null = null;
  let errorAfterMs = 0;
  let checkpointWhileDown = before.checkpoint;
  const rpcWhileDown = new Set<string>();
  while (Date.now() - downAt < OUTAGE_MS || (errorWhileDown === null && Date.now() - downAt < MAX_OUTAGE_MS)) {
    const s = await status(fx.stack.client, spec);
    if (errorWhileDown === null && s.lastError !== null) {
      errorWhileDown = s.lastError;
      errorAfterMs = Date.now() - downAt;
    }
    checkpointWhileDown = s.checkpoint;
    for (const e of s.rpc) rpcWhileDown.add(`${e.state} failures=${e.failures}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const downMs = Date.now() - downAt;
  await proxy.restart();
  const upAt = Date.now();
  assert.equal(worker.worker.worker.getState(), 'RUNNING', 'the worker did not crash');
  assert.ok(checkpointWhileDown < head, 'the backfill did not finish while the endpoint was down');
  assert.ok(errorWhileDown, `lastError was set while the endpoint was down (${downMs} ms)`);
  assert.match(errorWhileDown!, /127\.0\.0\.1:\d+/, 'lastError names the (redacted) endpoint');
  assert.ok(!errorWhileDown!.includes('outage-key'), 'lastError does not leak the URL path');

  const final = await waitForCheckpoint(fx.stack.client, spec, head, 120_000);
  const caughtUpAfter = Date.now() - upAt;
  await worker.stop();
  await assertExactlyTheChain(name);
  assert.equal(final.lastError, null, 'lastError cleared after recovery');
  assert.ok(final.rpc[0]!.failures > 0, 'the endpoint\'s failures during the outage show in its health');
  const { retries, failedToWorkflow } = await activityRetries(spec);
  t.diagnostic(
    `down at checkpoint ${before.checkpoint}/${head} for ${(downMs / 1000).toFixed(1)} s; lastError after ${(errorAfterMs / 1000).toFixed(1)} s: ${errorWhileDown}; ` +
      `status.rpc while down: ${[...rpcWhileDown].join(', ')}; caught up ${(caughtUpAfter / 1000).toFixed(1)} s after restart; activity retries ${retries}, failures reaching the workflow ${failedToWorkflow}; rpc ${describeRpc(final)}`,
  );
});

test('wrong chain id: the indexer pauses with a clear non-retryable lastError and writes nothing', { timeout: 120_000 }, async (t) => {
  const name = uniqueName('wrong chain id');
  const proxy = await proxyFor();
  proxy.fault('wrongChainId', { chainId: 1 });
  const { spec, worker } = await startIndexing(name, [proxy.url('/v2/chain-key')]);
  const paused = await waitForStatus(fx.stack.client, spec, 'the indexer to pause', (s) => s.paused, 60_000);
  assert.equal(paused.mode, 'paused');
  assert.match(paused.lastError ?? '', /chain id mismatch/i);
  assert.match(paused.lastError ?? '', new RegExp(`31337[\\s\\S]*127\\.0\\.0\\.1:${proxy.port}[\\s\\S]*chain 1\\b`), 'lastError says which chain the endpoint serves');
  assert.ok(!(paused.lastError ?? '').includes('chain-key'), 'lastError is redacted');
  // Non-retryable: asked once, not again while paused.
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(proxy.counts.wrongChainId, 1, 'eth_chainId was asked once: the mismatch was not retried');
  const { retries } = await activityRetries(spec);
  assert.equal(retries, 0, 'no activity retried the mismatch');
  const { rows } = await fx.stack.db.query(`SELECT 1 FROM information_schema.schemata WHERE schema_name = $1`, [name]);
  assert.equal(rows.length, 0, 'no schema (and so no table) was created');
  assert.equal((await status(fx.stack.client, spec)).checkpoint, -1, 'nothing indexed');
  await worker.stop();
  t.diagnostic(`lastError: ${paused.lastError}; eth_chainId answers faked: ${proxy.counts.wrongChainId}; proxy requests: ${proxy.stats.requests}`);
});

/**
 * Indexes the chain through `urls` and must be done within 20 s, the data exactly the chain's;
 * `diagnose` reports however that went (before the worker is stopped at the end).
 */
async function catchesUpWithin20s(
  title: string,
  urls: string[],
  diagnose: (s: { checkpoint: number | string; lastError: string | null }, spec: IndexerSpec) => Promise<void>,
): Promise<void> {
  const name = uniqueName(title);
  const { spec, worker } = await startIndexing(name, urls);
  try {
    await waitForCheckpoint(fx.stack.client, spec, head, 20_000);
    await worker.stop();
    await assertExactlyTheChain(name);
  } finally {
    // Diagnostics only; with the worker stopped nothing answers queries, so don't mask the real failure.
    const s = (await status(fx.stack.client, spec).catch(() => undefined)) ?? { checkpoint: '?', lastError: '(no worker to ask)' };
    await diagnose(s, spec);
    await worker.stop();
  }
}

// Two faults found while writing this suite, fixed in src/rpc: rate limiting is the endpoint's fault
// (failover), and a lone failed request is retried inside the RPC layer, not by failing the activity.

test(
  'an Infura-style HTTP 429 on eth_getLogs (-32005 "rate exceeded") fails over to a healthy endpoint',
  { timeout: 120_000 },
  async (t) => {
    const limited = await proxyFor();
    const healthy = await proxyFor();
    limited.fault('http429', { methods: ['eth_getLogs'], body: JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32005, message: 'project ID request rate exceeded' } }) });
    healthy.setDelay(60); // slower, so the rate-limited endpoint ranks first by latency
    await catchesUpWithin20s('rate limited getlogs', [limited.url('/v3/key'), healthy.url('/v2/key')], async (s) =>
      t.diagnostic(
        `checkpoint ${s.checkpoint}/${head}; rate-limited endpoint: ${limited.counts.http429} 429s of ${limited.stats.methods.get('eth_getLogs') ?? 0} getLogs; ` +
          `healthy endpoint: ${healthy.stats.methods.get('eth_getLogs') ?? 0} getLogs; lastError ${s.lastError}`,
      ),
    );
  },
);

test(
  'a steady fault rate (every 5th request fails): the ranges near the head still complete',
  { timeout: 120_000 },
  async (t) => {
    const proxy = await proxyFor();
    proxy.fault('http500', { every: 5 });
    await catchesUpWithin20s('steady faults', [proxy.url('/v2/key')], async (s, spec) => {
      const { retries } = await activityRetries(spec);
      t.diagnostic(`checkpoint ${s.checkpoint}/${head} (near-head blocks from ${head - 64}); 500s ${proxy.counts.http500} of ${proxy.stats.requests} requests; activity retries ${retries}; lastError ${s.lastError}`);
    });
  },
);
