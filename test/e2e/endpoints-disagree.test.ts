import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { encodeFunctionData, toEventSelector, type Address } from 'viem';
import { FAST_MINING_ANVIL_ARGS, startTestChain, type TestChain } from '../helpers/chain';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { e2e } from '../helpers/fixture';
import { status } from '../helpers/indexer';
import { EMITTER_TABLES, assertMatchesChain, type TableExpectation } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { eventually, type RunningWorker } from '../helpers/workers';
import { ChainRpc } from '../../src/rpc/client';
import type { IndexerSpec } from '../../src/spec';
import type { IndexerStatus } from '../../src/workflows/messages';

/**
 * Endpoints that disagree (DESIGN.md): two or more endpoints of one chain, one lagging, omitting
 * logs or misrouted, each played by the fault proxy in front of a real anvil, so that a lagging
 * endpoint serves exactly the chain up to its own head and nothing above it, as a lagging node
 * does. Real Temporal dev server, PostgreSQL and anvil; the oracle is anvil's own eth_getLogs.
 * Each test prints every endpoint's status.rpc figures and what its proxy saw.
 */

const emitter = compileFixture('Emitter');
const twoEvents = compileFixture('BusyBlocks', 'TwoEvents');
const TWO_EVENTS_TABLES: TableExpectation[] = [
  { signature: 'Transfer(address,address,uint256)', table: 'token_transfer', columns: ['from', 'to', 'value'] },
  { signature: 'Approval(address,address,uint256)', table: 'token_approval', columns: ['owner', 'spender', 'value'] },
];
const TABLE = 'emitter_transfer';
const TRANSFER_TOPIC = toEventSelector('Transfer(address,address,uint256)');

// Each test starts its own anvil(s).
const fx = e2e({ chain: false });

interface Chain {
  chain: TestChain;
  address: Address;
  /** One transaction emitting `count` logs, mined into a block of its own; returns the block. */
  emit: (count: number) => Promise<number>;
  /** The contract's ABI and tables, for the oracle (default Emitter's). */
  abi?: typeof emitter.abi;
  tables?: TableExpectation[];
}

let salt = 1n;

/** A fresh anvil with Emitter deployed and `txs` transactions of `perTx` logs, `gap` empty blocks apart. */
async function chainWithEvents(options: { txs: number; perTx: number | ((i: number) => number); gap: number; chainId?: number; keepStates?: boolean }): Promise<Chain> {
  // anvil_reorg needs the old states that fast mining prunes.
  const chain = await startTestChain({ anvilArgs: options.keepStates ? undefined : FAST_MINING_ANVIL_ARGS, chainId: options.chainId });
  fx.defer(() => chain.stop());
  const address = await chain.deploy(emitter.abi, emitter.bytecode);
  const emit = async (count: number) => Number(await chain.send(address, emitter.abi, 'emitMany', [BigInt(count), salt++]));
  for (let i = 0; i < options.txs; i++) {
    await emit(typeof options.perTx === 'number' ? options.perTx : options.perTx(i));
    if (options.gap > 0) await chain.mine(options.gap);
  }
  return { chain, address, emit };
}

async function proxyFor(chain: TestChain): Promise<FaultProxy> {
  const proxy = await startFaultProxy(chain.url);
  fx.defer(() => proxy.stop());
  return proxy;
}

interface Indexer {
  name: string;
  spec: IndexerSpec;
  stop: () => Promise<void>;
}

async function startIndexing(
  title: string,
  c: Chain,
  urls: string[],
  chainSettings: Record<string, unknown> = {},
  contract: Record<string, unknown> = {},
): Promise<Indexer> {
  const ix = await fx.indexer({
    title,
    chain: c.chain,
    rpc: urls,
    config: (name) => ({
      name,
      chains: { local: { id: c.chain.chainId, maxBlockRange: 50, maxInFlight: 3, maxReorgDepth: 32, pollIntervalMs: 100, rpcTimeoutMs: 5_000, ...chainSettings } },
      contracts: [{ name: 'Emitter', chain: 'local', address: c.address, abi: emitter.abi, ...contract }],
    }),
  });
  const worker = ix.worker as RunningWorker;
  return { name: ix.name, spec: ix.spec, stop: () => worker.stop() };
}

/** Waits until the checkpoint is at the chain's head and every stored row equals the chain's. */
async function synced(ix: Indexer, c: Chain, timeoutMs = 90_000): Promise<IndexerStatus> {
  return eventually(
    `${ix.name} equal to the chain`,
    async () => {
      const head = await c.chain.publicClient.getBlockNumber();
      const s = await status(fx.stack.client, ix.spec);
      if (s.checkpoint < Number(head)) return undefined;
      const tables = c.tables ?? EMITTER_TABLES;
      await assertMatchesChain(fx.stack.db, c.chain.publicClient, { schema: ix.name, abi: c.abi ?? emitter.abi, address: c.address, chainId: c.chain.chainId, toBlock: head, tables });
      for (const { table } of tables) {
        const { rows } = await fx.stack.db.query(`SELECT 1 FROM "${ix.name}"."${table}" WHERE block_number > $1 LIMIT 1`, [String(head)]);
        if (rows.length > 0) return undefined;
      }
      return s;
    },
    timeoutMs,
    200,
  );
}

/** What the status showed while a test ran, polled every 100 ms. */
interface Watch {
  maxLag: Map<string, number>;
  errors: string[];
  outOfRotation: Set<string>;
  pausedSeen: boolean;
  rollingBackSeen: boolean;
  last?: IndexerStatus;
  stop: () => Promise<void>;
}

function watch(ix: Indexer): Watch {
  const w: Watch = { maxLag: new Map(), errors: [], outOfRotation: new Set(), pausedSeen: false, rollingBackSeen: false, stop: async () => undefined };
  let running = true;
  const loop = (async () => {
    while (running) {
      const s = await status(fx.stack.client, ix.spec).catch(() => undefined);
      if (s) {
        w.last = s;
        if (s.paused) w.pausedSeen = true;
        if (s.mode === 'rolling-back') w.rollingBackSeen = true;
        if (s.lastError && !w.errors.includes(s.lastError)) w.errors.push(s.lastError);
        for (const e of s.rpc) {
          if (e.lag !== null) w.maxLag.set(e.label, Math.max(w.maxLag.get(e.label) ?? 0, e.lag));
          if (e.outOfRotation) w.outOfRotation.add(`${e.label}: ${e.outOfRotation}`);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  w.stop = async () => {
    running = false;
    await loop;
  };
  return w;
}

const endpointOf = (s: IndexerStatus, proxy: FaultProxy) => {
  const e = s.rpc.find((r) => r.label.includes(`:${proxy.port}/`) || r.label.endsWith(`:${proxy.port}`));
  assert.ok(e, `endpoint of proxy ${proxy.port} in status.rpc: ${JSON.stringify(s.rpc.map((r) => r.label))}`);
  return e;
};

/** One line per endpoint: status.rpc's figures and what its proxy counted. */
function report(t: TestContext, title: string, s: IndexerStatus, proxies: Array<[string, FaultProxy]>, w?: Watch): string {
  const lines = proxies.map(([role, proxy]) => {
    const e = endpointOf(s, proxy);
    const faults = Object.entries(proxy.counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    return (
      `  ${role} (${e.label}): requests ${e.requests}, failures ${e.failures}, omissions ${e.omissions}, behind ${e.behind}, head ${e.head}, lag ${e.lag}` +
      `${w ? ` (max seen ${w.maxLag.get(e.label) ?? 0})` : ''}, demoted ${e.demoted}, outOfRotation ${e.outOfRotation ?? '-'}, latency ${e.latencyMs} ms; ` +
      `proxy: ${proxy.stats.requests} HTTP requests, ${proxy.stats.calls} calls, eth_getLogs ${proxy.stats.methods.get('eth_getLogs') ?? 0}, ` +
      `eth_getBlockByNumber ${proxy.stats.methods.get('eth_getBlockByNumber') ?? 0}, eth_blockNumber ${proxy.stats.methods.get('eth_blockNumber') ?? 0}; faults fired: ${faults || 'none'}`
    );
  });
  const text = `${title}: checkpoint ${s.checkpoint}, head ${s.head}, mode ${s.mode}, reorgs ${s.reorgs}, logs ${s.logsIndexed}, lastError ${s.lastError ?? 'null'}\n${lines.join('\n')}`;
  t.diagnostic(text);
  console.log(text);
  return text;
}

async function reorgRows(name: string): Promise<number> {
  const { rows } = await fx.stack.db.query<{ n: string }>(`SELECT count(*) AS n FROM "${name}"._reorgs`);
  return Number(rows[0]!.n);
}

test('two endpoints, the faster one lagging 3 and then 100 blocks, in backfill and realtime: no rollback, no pause, rows equal the chain', { timeout: 180_000 }, async (t) => {
  const c = await chainWithEvents({ txs: 40, perTx: (i) => 1 + (i % 4), gap: 9 });
  const lagging = await proxyFor(c.chain);
  const honest = await proxyFor(c.chain);
  honest.setDelay(30); // so the lagging endpoint is the faster, best-ranked one
  lagging.fault('lag', { blocks: 3 });
  const ix = await startIndexing('lag three then hundred', c, [lagging.url('/v2/lagging-key'), honest.url('/v2/honest-key')]);
  const w = watch(ix);

  // Backfill: a third of the way with a lag of 3, then the lag jumps to 100 (more than maxReorgDepth 32).
  const head = Number(await c.chain.publicClient.getBlockNumber());
  await eventually('a third of the backfill', async () => ((await status(fx.stack.client, ix.spec)).checkpoint >= head / 3 ? true : undefined), 60_000, 50);
  lagging.fault('lag', { blocks: 100 });
  await synced(ix, c);

  // Realtime with a lag of 100: the checkpoint is far above the lagging endpoint's head.
  for (let i = 0; i < 8; i++) await c.emit(2);
  await synced(ix, c);
  const duringLag = await status(fx.stack.client, ix.spec);
  assert.equal(duringLag.mode, 'realtime');
  const laggingDuring = endpointOf(duringLag, lagging);
  assert.ok(laggingDuring.lag !== null && laggingDuring.lag >= 100, `the lagging endpoint shows its lag: ${JSON.stringify(laggingDuring)}`);
  assert.ok(laggingDuring.head !== null && duringLag.checkpoint > laggingDuring.head, `the checkpoint (${duringLag.checkpoint}) is above the lagging endpoint's head (${laggingDuring.head})`);

  // Realtime with a lag of 3, then none: it is used again once it catches up.
  lagging.fault('lag', { blocks: 3 });
  for (let i = 0; i < 5; i++) await c.emit(1);
  await synced(ix, c);
  lagging.clear('lag');
  const getLogsBefore = lagging.stats.methods.get('eth_getLogs') ?? 0;
  for (let i = 0; i < 5; i++) await c.emit(3);
  const final = await synced(ix, c);
  await eventually('the lagging endpoint to catch up in status', async () => {
    const s = await status(fx.stack.client, ix.spec);
    return endpointOf(s, lagging).lag === 0 ? true : undefined;
  }, 20_000);
  assert.ok((lagging.stats.methods.get('eth_getLogs') ?? 0) > getLogsBefore, 'the endpoint that lagged gets eth_getLogs again once it caught up');

  await w.stop();
  const end = await status(fx.stack.client, ix.spec);
  assert.equal(w.pausedSeen, false, `never paused (errors seen: ${w.errors.join(' | ')})`);
  assert.equal(w.rollingBackSeen, false, 'never rolled back');
  assert.equal(end.reorgs, 0, 'no reorg counted');
  assert.equal(await reorgRows(ix.name), 0, 'no rollback recorded');
  assert.equal(end.lastError, null);
  assert.ok((w.maxLag.get(laggingDuring.label) ?? 0) >= 100, 'a lag of 100 was seen in status.rpc');
  assert.equal(endpointOf(end, lagging).omissions, 0, 'lagging is not omitting');
  assert.ok(end.checkpoint >= final.checkpoint);
  report(t, 'lag 3 → 100 → 3 → 0', end, [['lagging', lagging], ['honest', honest]], w);
  await ix.stop();
});

test('a lagging endpoint that answers eth_getLogs above its head with []: no row missing', { timeout: 180_000 }, async (t) => {
  // Every block carries logs, and the lagging endpoint is a load balancer: its head comes from an
  // up-to-date node, but every other eth_getLogs request reaches a node 5 blocks behind, which
  // answers for blocks above its head with [] (the way 407 rows went missing before). Such answers
  // are recognised (that node's own head, asked in the same batch, is below the range) and the
  // range is asked elsewhere.
  const c = await chainWithEvents({ txs: 60, perTx: 2, gap: 0 });
  const lagging = await proxyFor(c.chain);
  const honest = await proxyFor(c.chain);
  honest.setDelay(100); // clearly slower, so the lagging endpoint is the tip endpoint even on a busy machine
  lagging.fault('lag', { blocks: 5, every: 2, methods: ['eth_getLogs'], aboveHead: 'empty' });
  const ix = await startIndexing('lagging empty logs', c, [lagging.url('/v2/lb-key'), honest.url('/v2/honest-key')], { maxBlockRange: 10, crossCheck: 'off' });
  const w = watch(ix);
  const afterBackfill = await synced(ix, c);
  // Realtime: every getLogs now reaches a node that stays at the block where the backfill ended
  // (while the endpoint's head answers stay current), so every range it is asked for lies above
  // its head and each of its answers is [] for blocks that hold logs.
  lagging.fault('lag', { head: afterBackfill.checkpoint, methods: ['eth_getLogs'], aboveHead: 'empty' });
  const behindBefore = endpointOf(afterBackfill, lagging).behind;
  const firedBefore = lagging.counts.lag;
  for (let i = 0; i < 20; i++) await c.emit(1 + (i % 3));
  const final = await synced(ix, c);
  await w.stop();

  const e = endpointOf(final, lagging);
  const firedInRealtime = lagging.counts.lag - firedBefore;
  assert.ok(firedInRealtime >= 1, 'the node behind answered in realtime');
  assert.equal(e.behind - behindBefore, firedInRealtime, `each of its ${firedInRealtime} answers was recognised and not used: ${JSON.stringify(e)}`);
  assert.equal(e.omissions, 0);
  assert.equal(final.reorgs, 0);
  assert.equal(w.rollingBackSeen, false);
  report(t, 'lagging node answering [] above its head (crossCheck off, so only head tracking guards)', final, [['lagging', lagging], ['honest', honest]], w);
  await ix.stop();
});

test('an endpoint that drops one log from 10% of its eth_getLogs answers, beside an honest one: every row present, omissions counted for the liar', { timeout: 180_000 }, async (t) => {
  // The dropped log always shares its block with others of the same address and topic: no bloom
  // can reveal it; only the comparison with the other endpoint (crossCheck "all", the default) can.
  const c = await chainWithEvents({ txs: 50, perTx: (i) => 2 + (i % 5), gap: 3 });
  const liar = await proxyFor(c.chain);
  const honest = await proxyFor(c.chain);
  honest.setDelay(20); // the liar is faster: it ranks first until it is caught
  liar.fault('dropLog', { every: 10, prefer: 'crowded' });
  const ix = await startIndexing('drops logs', c, [liar.url('/v2/liar-key'), honest.url('/v2/honest-key')], { maxBlockRange: 5 });
  const w = watch(ix);
  await synced(ix, c);
  for (let i = 0; i < 20; i++) await c.emit(2 + (i % 3));
  const final = await synced(ix, c);
  await w.stop();

  report(t, 'liar dropping a log from 10% of answers (crossCheck all)', final, [['liar', liar], ['honest', honest]], w);
  const l = endpointOf(final, liar);
  const h = endpointOf(final, honest);
  assert.ok(liar.counts.dropLog >= 3, `the liar dropped logs (${liar.counts.dropLog} times: ${JSON.stringify(liar.dropped)})`);
  assert.equal(l.omissions, liar.counts.dropLog, 'every dropped log was caught and counted against the liar');
  assert.equal(h.omissions, 0, 'the honest endpoint was never blamed');
  assert.equal(final.reorgs, 0);
  assert.equal(l.demoted, true, 'the liar ranks last');
  await ix.stop();
});

test('a single endpoint that omits a log once: the row is stored in the end, and the suspicion shows in status meanwhile', { timeout: 120_000 }, async (t) => {
  const c = await chainWithEvents({ txs: 20, perTx: 1, gap: 1 });
  const only = await proxyFor(c.chain);
  const ix = await startIndexing('single omits once', c, [only.url('/v2/only-key')]);
  await synced(ix, c);
  const w = watch(ix);
  // The next answer with a log loses it: its block holds only that log, so the block's logsBloom
  // says there is one; the endpoint is asked again after a pause, and this time answers right.
  only.fault('dropLog', { times: 1, prefer: 'alone' });
  const block = await c.emit(1);
  const final = await synced(ix, c);
  const seen = await eventually('the suspicion in lastError', async () => w.errors.find((e) => /logsBloom/.test(e)), 10_000, 50);
  await w.stop();

  assert.equal(only.counts.dropLog, 1, 'the endpoint omitted one log once');
  assert.deepEqual(only.dropped.map((d) => d.block), [block], 'from the new block');
  assert.match(seen, new RegExp(`returned no log of an indexed address and topic0 that the logsBloom of block\\(s\\) ${block} admits; asked again, .* returned 1`));
  assert.equal(endpointOf(final, only).omissions, 1, 'counted in status.rpc');
  assert.equal(final.reorgs, 0);
  await eventually('lastError to clear after the next clean result', async () => ((await status(fx.stack.client, ix.spec)).lastError === null ? true : undefined), 20_000);
  report(t, `single endpoint omitting block ${block}'s only log once (lastError meanwhile: "${seen}")`, await status(fx.stack.client, ix.spec), [['only', only]], w);
  await ix.stop();
});

test('a single endpoint drops one log from a block near the head that holds other logs of the same contract: the row is stored anyway, and the omission is counted', { timeout: 120_000 }, async (t) => {
  // A token with Transfer and Approval. The new block holds one Approval and one Transfer of it;
  // the endpoint's first answer for it keeps the Approval and drops the Transfer. The block has a
  // log in the answer (re-asking only blocks with no log at all missed this), but its logsBloom
  // admits the token's address and Transfer's topic0, of which the answer has no log: it is asked
  // again after a pause, and this time the endpoint answers right.
  const chain = await startTestChain({ anvilArgs: FAST_MINING_ANVIL_ARGS });
  fx.defer(() => chain.stop());
  const address = await chain.deploy(twoEvents.abi, twoEvents.bytecode);
  const both = async (approvals: number, transfers: number) => Number(await chain.send(address, twoEvents.abi, 'emitBoth', [BigInt(approvals), BigInt(transfers), salt++]));
  const c: Chain = { chain, address, emit: (n) => both(0, n), abi: twoEvents.abi, tables: TWO_EVENTS_TABLES };
  for (let i = 0; i < 6; i++) {
    await both(i % 2, 1 + (i % 3));
    await chain.mine(2);
  }
  const only = await proxyFor(chain);
  const ix = await startIndexing('single drops one of two events', c, [only.url('/v2/only-key')], {}, { name: 'Token', abi: twoEvents.abi });
  await synced(ix, c);
  // Near the head, where blocks come with their headers (and blooms): the realtime tip.
  const before = await eventually('realtime', async () => {
    const s = await status(fx.stack.client, ix.spec);
    return s.mode === 'realtime' ? s : undefined;
  }, 30_000);
  const w = watch(ix);
  only.fault('dropLog', { times: 1, prefer: 'soleOfEvent' });
  const block = await both(1, 1);
  const final = await synced(ix, c);
  const seen = await eventually('the omission in lastError', async () => w.errors.find((e) => /logsBloom/.test(e)), 10_000, 50);
  await w.stop();

  assert.equal(only.counts.dropLog, 1, 'the endpoint omitted one log once');
  const transfer = (await chain.publicClient.getLogs({ address, fromBlock: BigInt(block), toBlock: BigInt(block) })).find((l) => l.topics[0] === TRANSFER_TOPIC);
  assert.ok(transfer, 'the block holds a Transfer');
  assert.deepEqual(only.dropped, [{ block, logIndex: transfer.logIndex }], 'the Transfer of the new block was dropped, its Approval kept');
  // synced() compared both tables with eth_getLogs: the Transfer row is there.
  const { rows } = await fx.stack.db.query(`SELECT 1 FROM "${ix.name}".token_transfer WHERE block_number = $1`, [String(block)]);
  assert.equal(rows.length, 1, 'the dropped Transfer was stored');
  assert.match(seen, new RegExp(`returned no log of an indexed address and topic0 that the logsBloom of block\\(s\\) ${block} admits; asked again, .* returned 1`));
  assert.equal(endpointOf(final, only).omissions - endpointOf(before, only).omissions, 1, 'counted in status.rpc');
  assert.equal(final.reorgs, 0);
  report(t, `single endpoint dropping block ${block}'s Transfer beside its Approval (lastError meanwhile: "${seen}")`, final, [['only', only]], w);
  await ix.stop();
});

test('a real reorg while one endpoint lags: rolled back exactly once, rows equal the canonical chain', { timeout: 180_000 }, async (t) => {
  const c = await chainWithEvents({ txs: 30, perTx: (i) => 1 + (i % 3), gap: 0, keepStates: true });
  const lagging = await proxyFor(c.chain);
  const honest = await proxyFor(c.chain);
  honest.setDelay(30);
  lagging.fault('lag', { blocks: 5 });
  const ix = await startIndexing('reorg while lagging', c, [lagging.url('/v2/lagging-key'), honest.url('/v2/honest-key')]);
  await synced(ix, c);
  const w = watch(ix);

  // Replace the last 8 blocks (deeper than the lag) by blocks with other events.
  const tx = (count: number) => ({
    from: c.chain.accounts[0]!,
    to: c.address,
    data: encodeFunctionData({ abi: emitter.abi, functionName: 'emitMany', args: [BigInt(count), salt++] }),
  });
  await c.chain.publicClient.request({ method: 'anvil_reorg' as never, params: [8, [[tx(4), 1], [tx(2), 6]]] as never });
  await eventually('the reorg to be rolled back', async () => ((await status(fx.stack.client, ix.spec)).reorgs >= 1 ? true : undefined), 60_000);
  await synced(ix, c);
  for (let i = 0; i < 5; i++) await c.emit(2);
  const final = await synced(ix, c);
  await new Promise((r) => setTimeout(r, 2_000)); // room for a second rollback, should one follow
  await w.stop();

  const end = await status(fx.stack.client, ix.spec);
  assert.equal(end.reorgs, 1, 'rolled back exactly once');
  const { rows } = await fx.stack.db.query<{ depth: number; reason: string }>(`SELECT depth, reason FROM "${ix.name}"._reorgs`);
  assert.deepEqual(rows.map((r) => [r.depth, r.reason]), [[8, 'reorg']], 'one rollback, to the real common ancestor');
  assert.equal(w.pausedSeen, false);
  assert.ok(end.checkpoint >= final.checkpoint);
  report(t, 'anvil_reorg of depth 8 with one endpoint 5 blocks behind', end, [['lagging', lagging], ['honest', honest]], w);
  await ix.stop();
});

test('a misrouted load balancer (some answers from another chain): the endpoint is taken out of rotation, nothing from the other chain is stored, no reorg', { timeout: 180_000 }, async (t) => {
  const c = await chainWithEvents({ txs: 40, perTx: (i) => 1 + (i % 4), gap: 6 });
  // The other chain: same deployer and nonce, so Emitter sits at the same address, with other events.
  const other = await chainWithEvents({ txs: 60, perTx: 7, gap: 4, chainId: 31338 });
  assert.equal(other.address, c.address, 'the contract has the same address on both chains');
  const misrouted = await proxyFor(c.chain);
  const honest = await proxyFor(c.chain);
  honest.setDelay(20);
  const ix = await startIndexing('misrouted', c, [misrouted.url('/v2/lb-key'), honest.url('/v2/honest-key')]);
  const w = watch(ix);
  // Mid-run (the start-up chain id check has passed): one request in three goes to chain 31338.
  await eventually('the indexer to be past its start-up check', async () => ((await status(fx.stack.client, ix.spec)).head !== null ? true : undefined), 30_000, 20);
  misrouted.fault('reroute', { target: other.chain.url, every: 3 });
  await synced(ix, c);
  for (let i = 0; i < 10; i++) await c.emit(2);
  const final = await synced(ix, c);
  await w.stop();

  assert.ok(misrouted.counts.reroute > 0, 'requests were misrouted');
  const m = endpointOf(final, misrouted);
  assert.equal(m.outOfRotation, 'serves chain 31338, not 31337', `shown out of rotation: ${JSON.stringify(m)}`);
  // The misrouting may be caught by the very step that synced: then only the final status shows it.
  const errors = [...w.errors, final.lastError ?? ''];
  assert.ok(errors.some((e) => /out of rotation: it serves chain 31338, not 31337/.test(e)), `lastError said so: ${errors.join(' | ')}`);
  assert.equal(final.reorgs, 0);
  assert.equal(w.pausedSeen, false, 'a misrouted answer mid-run does not pause the indexer');
  // Rows equal chain 31337's (synced() checked every row); and none is chain 31338's.
  const otherLogs = await other.chain.publicClient.getLogs({ address: other.address, fromBlock: 0n, toBlock: 'latest' });
  const { rows } = await fx.stack.db.query<{ n: string }>(`SELECT count(*) AS n FROM "${ix.name}"."${TABLE}" WHERE tx_hash = ANY($1)`, [otherLogs.map((l) => l.transactionHash)]);
  assert.ok(otherLogs.length > 0);
  assert.equal(Number(rows[0]!.n), 0, 'no row from chain 31338');
  report(t, 'load balancer sending one request in three to chain 31338', final, [['misrouted', misrouted], ['honest', honest]], w);
  await ix.stop();
});

test('RPC layer: a misrouted endpoint is out of rotation, never answers for the chain, and comes back once it serves the right chain', { timeout: 60_000 }, async () => {
  const c = await chainWithEvents({ txs: 10, perTx: 2, gap: 2 });
  const other = await chainWithEvents({ txs: 12, perTx: 5, gap: 1, chainId: 31338 });
  const misrouted = await proxyFor(c.chain);
  const honest = await proxyFor(c.chain);
  misrouted.fault('reroute', { target: other.chain.url });
  const rpc = new ChainRpc(c.chain.chainId, [misrouted.url('/k1'), honest.url('/k2')], { timeoutMs: 2_000, rotationRetryMs: 1_000 });
  const probe = await rpc.probeHeads();
  assert.equal(probe.tipLabel, rpc.labels[1], 'the head is the honest endpoint\'s');
  assert.equal(probe.allAnswered, false, 'the misrouted endpoint does not count as an answer');
  assert.equal(rpc.health()[0]!.outOfRotation, 'serves chain 31338, not 31337');
  assert.match(rpc.notice() ?? '', /is out of rotation: it serves chain 31338, not 31337/);

  const head = Number(await c.chain.publicClient.getBlockNumber());
  const getLogsBefore = misrouted.stats.methods.get('eth_getLogs') ?? 0;
  const logs = await rpc.getLogs({ fromBlock: 0, toBlock: head, addresses: [c.address], topic0s: [TRANSFER_TOPIC] });
  const truth = await c.chain.publicClient.getLogs({ address: c.address, fromBlock: 0n, toBlock: BigInt(head) });
  assert.deepEqual(logs.map((l) => l.transactionHash), truth.map((l) => l.transactionHash), 'the logs are chain 31337\'s');
  assert.equal(misrouted.stats.methods.get('eth_getLogs') ?? 0, getLogsBefore, 'the endpoint out of rotation was not asked');
  assert.equal(rpc.checkStats().crossCheckSkipped, 1, 'no second endpoint to compare with: counted');

  misrouted.clear('reroute');
  await new Promise((r) => setTimeout(r, 1_100));
  const again = await rpc.probeHeads();
  assert.equal(again.allAnswered, true);
  assert.equal(rpc.health()[0]!.outOfRotation, null, 'back in rotation once it serves chain 31337 again');
  assert.equal(rpc.notice(), undefined);
});

test('RPC layer: a lone endpoint lagging behind a block asked about is never taken as "no logs there"', { timeout: 60_000 }, async () => {
  const c = await chainWithEvents({ txs: 10, perTx: 1, gap: 0 });
  const lagging = await proxyFor(c.chain);
  const rpc = new ChainRpc(c.chain.chainId, [lagging.url('/k')], { timeoutMs: 2_000 });
  const head = (await rpc.probeHeads()).head;
  // The endpoint now falls behind (a node of its load balancer 5 blocks back), while its known head is still `head`.
  lagging.fault('lag', { blocks: 5, aboveHead: 'empty' });
  const filter = { fromBlock: head - 3, toBlock: head, addresses: [c.address], topic0s: [TRANSFER_TOPIC] };
  await assert.rejects(rpc.getLogs(filter), /no endpoint has block \d+ yet \(http:\/\/127\.0\.0\.1:\d+\/…: head \d+\); waiting/);
  assert.ok(rpc.health()[0]!.behind >= 1, 'its answer was recognised as from behind its head');
  lagging.clear('lag');
  const logs = await rpc.getLogs(filter);
  assert.equal(logs.length, 4, 'once it has the blocks, their logs');
});

test('what crossCheck costs: requests per 1,000 blocks of backfill with "off", "sample" and "all"', { timeout: 180_000 }, async (t) => {
  // Logs in one block in 13; ranges of up to 25 blocks (about 80 of them, so that "sample" has
  // enough to pick from); two honest endpoints. The README's figures come from a larger run.
  const c = await chainWithEvents({ txs: 150, perTx: (i) => 1 + (i % 5), gap: 12 });
  const head = Number(await c.chain.publicClient.getBlockNumber());
  const a = await proxyFor(c.chain);
  const b = await proxyFor(c.chain);
  const figures: Record<string, { requests: number; calls: number; getLogs: number; headers: number; heads: number }> = {};
  for (const crossCheck of ['off', 'sample', 'all'] as const) {
    a.resetCounts();
    b.resetCounts();
    const ix = await startIndexing(`cost ${crossCheck}`, c, [a.url('/v2/a'), b.url('/v2/b')], { maxBlockRange: 25, crossCheck }, { endBlock: head });
    await eventually(`${crossCheck}: done`, async () => ((await status(fx.stack.client, ix.spec)).mode === 'done' ? true : undefined), 120_000, 100);
    await ix.stop();
    await assertMatchesChain(fx.stack.db, c.chain.publicClient, { schema: ix.name, abi: emitter.abi, address: c.address, chainId: c.chain.chainId, toBlock: BigInt(head), tables: EMITTER_TABLES });
    const sum = (f: (p: FaultProxy) => number) => f(a) + f(b);
    const perK = (n: number) => Math.round((n * 1000) / (head + 1));
    figures[crossCheck] = {
      requests: perK(sum((p) => p.stats.requests)),
      calls: perK(sum((p) => p.stats.calls)),
      getLogs: perK(sum((p) => p.stats.methods.get('eth_getLogs') ?? 0)),
      headers: perK(sum((p) => p.stats.methods.get('eth_getBlockByNumber') ?? 0)),
      heads: perK(sum((p) => p.stats.methods.get('eth_blockNumber') ?? 0)),
    };
  }
  const text = `backfill of ${head + 1} blocks, two endpoints, maxBlockRange 25; per 1,000 blocks (HTTP requests / JSON-RPC calls / eth_getLogs / eth_getBlockByNumber / eth_blockNumber calls):\n${Object.entries(figures)
    .map(([mode, f]) => `  crossCheck ${mode}: ${f.requests} / ${f.calls} / ${f.getLogs} / ${f.headers} / ${f.heads}`)
    .join('\n')}`;
  t.diagnostic(text);
  console.log(text);
  const ratio = figures.all!.getLogs / figures.off!.getLogs;
  assert.ok(ratio > 1.8 && ratio < 2.2, `"all" asks every range twice (${ratio.toFixed(2)}×)`);
  assert.ok(figures.sample!.getLogs > figures.off!.getLogs && figures.sample!.getLogs < figures.all!.getLogs, '"sample" asks some ranges twice');
});

test('the only up-to-date endpoint goes down while the other lags behind the checkpoint: a wait with lastError, never a rollback', { timeout: 180_000 }, async (t) => {
  const c = await chainWithEvents({ txs: 20, perTx: 2, gap: 1 });
  const lagging = await proxyFor(c.chain);
  const honest = await proxyFor(c.chain);
  const ix = await startIndexing('only fresh one down', c, [lagging.url('/v2/lagging-key'), honest.url('/v2/honest-key')], { maxReorgDepth: 8 });
  await synced(ix, c);
  const w = watch(ix);
  // The reachable endpoint is 20 blocks behind the checkpoint (deeper than maxReorgDepth 8), the
  // other one cannot be asked: before, this rolled back, or paused as a reorg too deep.
  lagging.fault('lag', { blocks: 20 });
  await honest.stop();
  const waiting = await eventually('lastError to say it waits', async () => w.errors.find((e) => /every reachable endpoint is behind the checkpoint/.test(e)), 60_000, 100);
  assert.match(waiting, new RegExp(`behind the checkpoint \\d+ \\(http://127\\.0\\.0\\.1:${lagging.port}/…: head \\d+, http://127\\.0\\.0\\.1:${honest.port}/…: unreachable`));
  await honest.restart();
  lagging.clear('lag');
  for (let i = 0; i < 3; i++) await c.emit(2);
  const final = await synced(ix, c);
  await w.stop();
  assert.equal(w.rollingBackSeen, false, 'never rolled back');
  assert.equal(w.pausedSeen, false, 'never paused');
  assert.equal(final.reorgs, 0);
  assert.equal(await reorgRows(ix.name), 0);
  report(t, `up-to-date endpoint down, the other 20 behind (lastError meanwhile: "${waiting}")`, final, [['lagging', lagging], ['honest', honest]], w);
  await ix.stop();
});

test('verification reads from another endpoint than the one ingesting', { timeout: 120_000 }, async (t) => {
  const c = await chainWithEvents({ txs: 20, perTx: 3, gap: 2 });
  const fast = await proxyFor(c.chain);
  const slow = await proxyFor(c.chain);
  slow.setDelay(400); // ranks second (by latency, even on a busy machine), so the fast one ingests
  // crossCheck off: only the routing decides who is asked.
  const ix = await startIndexing('verify elsewhere', c, [fast.url('/v2/fast-key'), slow.url('/v2/slow-key')], { crossCheck: 'off' });
  await synced(ix, c);
  const getLogs = (p: FaultProxy) => p.stats.methods.get('eth_getLogs') ?? 0;
  const ingested = { fast: getLogs(fast), slow: getLogs(slow) };
  assert.ok(ingested.fast > ingested.slow, `the fast endpoint ingested (eth_getLogs: fast ${ingested.fast}, slow ${ingested.slow})`);
  const head = Number(await c.chain.publicClient.getBlockNumber());
  const result = await fx.stack.client.workflow.getHandle(`indexer:${ix.name}:${c.chain.chainId}`).executeUpdate('verify', { args: [{ fromBlock: 0, toBlock: head - 40 }] });
  const asked = { fast: getLogs(fast) - ingested.fast, slow: getLogs(slow) - ingested.slow };
  assert.equal((result as { mismatches: number }).mismatches, 0);
  assert.ok(asked.slow >= 1 && asked.slow > asked.fast, `the verification read from the other endpoint (its eth_getLogs: slow ${asked.slow}, fast ${asked.fast})`);
  report(t, `verification of 0-${head - 40}: eth_getLogs to the ingesting endpoint ${asked.fast}, to the other ${asked.slow}`, await status(fx.stack.client, ix.spec), [['fast (ingesting)', fast], ['slow', slow]]);
  await ix.stop();
});

test('RPC layer: over a websocket the chain id is checked on the socket, and data still flows', { timeout: 60_000 }, async () => {
  const c = await chainWithEvents({ txs: 5, perTx: 2, gap: 0 });
  const rpc = new ChainRpc(c.chain.chainId, [c.chain.url.replace(/^http/, 'ws')], { timeoutMs: 2_000 });
  fx.defer(() => rpc.close());
  const probe = await rpc.probeHeads({ hashes: true });
  const head = Number(await c.chain.publicClient.getBlockNumber());
  assert.equal(probe.head, head);
  const logs = await rpc.getLogs({ fromBlock: 0, toBlock: head, addresses: [c.address], topic0s: [TRANSFER_TOPIC] });
  assert.equal(logs.length, 10);
  const header = await rpc.getBlockHeader(head);
  assert.equal(header.hash, probe.tipHash);
  assert.ok(header.logsBloom && header.logsBloom.length === 514, 'headers carry logsBloom');
  // A websocket to another chain is taken out of rotation at its first data request.
  const other = await chainWithEvents({ txs: 1, perTx: 1, gap: 0, chainId: 31338 });
  const wrong = new ChainRpc(c.chain.chainId, [other.chain.url.replace(/^http/, 'ws')], { timeoutMs: 2_000 });
  fx.defer(() => wrong.close());
  await assert.rejects(wrong.probeHeads(), /no endpoint of chain 31337 told its head: .*answered eth_blockNumber for chain 31338, not 31337/);
  assert.equal(wrong.health()[0]!.outOfRotation, 'serves chain 31338, not 31337');
});
