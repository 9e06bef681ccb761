import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeEventLog, parseAbi, type Address } from 'viem';
import { chainTransfers, expectedBalances, transferBatch, writeModule } from '../helpers/balances';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { e2e, type TestIndexer } from '../helpers/fixture';
import { natsConnect, readStream, replay } from '../helpers/nats';
import { assertMatchesChain } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { freePort } from '../helpers/ports';
import { eventually, runCli, spawnWorkerProcess, type WorkerProcess } from '../helpers/workers';

/**
 * A repair reaches every stage (DESIGN.md, "A repair reaches every stage"): an endpoint loses,
 * changes or invents a log the bloom cannot reveal, the handlers and the stream go past it, and
 * `indexer verify` puts the event table right. Then the derived tables must equal the oracle from
 * the chain's eth_getLogs, the handlers must have handled the events in canonical order, and the
 * stream must replay to exactly the canonical events. Real Temporal, PostgreSQL, anvil and NATS.
 */

const NATS = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const emitter = compileFixture('Emitter');
const transferAbi = parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)']);
const t = e2e();
const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-repair-'));

/** Balances through the store, and every event handled appended to `handled` (its id gives the order handlers saw them in). */
function handlersModule(slow: boolean): string {
  return `export default {
  async setup({ db }) {
    await db.query('create table if not exists balances (account text primary key, balance numeric(78,0) not null)');
    await db.query('create table if not exists handled (id bigserial primary key, block_number bigint not null, log_index integer not null)');
  },
  on: {
    async 'Emitter:Transfer'({ event, db, store }) {
      const { from, to, value } = event.args;
      store.update('balances', { account: from }, (row) => ({ balance: (row?.balance ?? 0n) - value }));
      store.update('balances', { account: to }, (row) => ({ balance: (row?.balance ?? 0n) + value }));
      db.query('insert into handled (block_number, log_index) values ($1, $2)', [event.block.number, event.log.index]);${slow ? "\n      await db.query('select pg_sleep(0.02)');" : ''}
    },
  },
};
`;
}
const HANDLERS = writeModule(dir, 'repair-handlers.mjs', handlersModule(false));
/** The same, slow: a replay long enough to kill a worker in. */
const SLOW_HANDLERS = writeModule(dir, 'repair-handlers-slow.mjs', handlersModule(true));

/** Transfers of realistic values, `count` in one block (so a dropped one leaves others of its event there: no bloom reveals it). */
async function emitBlock(address: Address, salt: number, count: number, account = 0): Promise<void> {
  const { to, values } = transferBatch(7_000 + salt, count, { nearMax: salt % 5 === 0 ? 1 : 0 });
  const hash = await t.chain.wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitTransfers', args: [to, values], account: t.chain.accounts[account]! } as never);
  await t.chain.publicClient.waitForTransactionReceipt({ hash });
}

function config(address: Address, handlers: string, chain: Record<string, unknown> = {}) {
  return (name: string) => ({
    name,
    chains: { local: { id: t.chain.chainId, maxBlockRange: 20, maxInFlight: 2, pollIntervalMs: 100, maxReorgDepth: 64, ...chain } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
    handlers,
    stream: { delivery: 'instant' },
  });
}

async function indexer(title: string, address: Address, proxy: FaultProxy, options: { handlers?: string; chain?: Record<string, unknown>; worker?: 'process' | 'none' } = {}): Promise<TestIndexer> {
  return t.indexer({ title, config: config(address, options.handlers ?? HANDLERS, options.chain), rpc: [proxy.url()], natsUrl: NATS, ...(options.worker ? { worker: options.worker } : {}) });
}

async function proxied(): Promise<FaultProxy> {
  const proxy = await startFaultProxy(t.chain.url);
  t.defer(() => proxy.stop());
  return proxy;
}

/** Ingest, handlers and stream have all gone up to the chain's head. */
async function caughtUp(ix: TestIndexer): Promise<number> {
  const head = Number(await t.chain.publicClient.getBlockNumber());
  await eventually(
    `${ix.name}: every stage at the head (${head})`,
    async () => {
      const s = await ix.status();
      return s.checkpoint >= head && s.handlers!.checkpoint >= head && s.stream!.checkpoint >= head && s.stream!.lag === 0 ? true : undefined;
    },
    180_000,
  );
  return head;
}

/** Stored rows, balances, the order handlers saw events in, and the stream: each equal to what the canonical chain makes of them. */
async function everyStageEqualsChain(ix: TestIndexer, address: Address, nc: NatsConnection): Promise<{ repaired: number }> {
  const head = await caughtUp(ix);
  const db = t.stack.db;
  await assertMatchesChain(db, t.chain.publicClient, { schema: ix.name, abi: emitter.abi, address, chainId: t.chain.chainId, toBlock: BigInt(head), tables: [{ signature: 'Transfer(address,address,uint256)', table: 'emitter_transfer', columns: ['from', 'to', 'value'] }] });
  const transfers = await chainTransfers(t.chain.publicClient, address, BigInt(head));
  const balances = await db.query<{ account: string; balance: string }>(`SELECT account, balance::text AS balance FROM "${ix.name}".balances`);
  assert.deepStrictEqual(new Map(balances.rows.map((r) => [r.account, r.balance])), expectedBalances(transfers).balances, 'balances equal the chain');
  const handled = await db.query<{ b: string; l: number }>(`SELECT block_number::text AS b, log_index AS l FROM "${ix.name}".handled ORDER BY id`);
  assert.deepStrictEqual(
    handled.rows.map((r) => `${r.b}:${r.l}`),
    transfers.map((tr) => `${tr.blockNumber}:${tr.logIndex}`),
    'the handlers saw each canonical event once, in chain order',
  );
  const seen = await readStream(nc, `INDEXER_${ix.name.toUpperCase()}`, `indexer.${ix.name}.${t.chain.chainId}.>`);
  const { live, repaired } = replay(seen);
  const logs = await t.chain.publicClient.getLogs({ address, event: transferAbi[0], fromBlock: 0n, toBlock: BigInt(head) });
  assert.deepStrictEqual(
    live.map((b) => [b.blockNumber, b.logIndex, b.blockHash, b.args]),
    logs.map((log) => {
      const { args } = decodeEventLog({ abi: transferAbi, data: log.data, topics: log.topics });
      return [Number(log.blockNumber), log.logIndex, log.blockHash!.toLowerCase(), { from: args.from.toLowerCase(), to: args.to.toLowerCase(), value: args.value.toString() }];
    }),
    'replaying the stream gives exactly the canonical events',
  );
  return { repaired };
}

async function verify(ix: TestIndexer): Promise<string> {
  const run = await runCli(['verify', ix.name], ix.env);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

async function connected(): Promise<NatsConnection> {
  const nc = await natsConnect(NATS);
  t.defer(() => nc.close());
  return nc;
}

test('an endpoint drops one log of a block that holds others of the event, in backfill and in realtime; the handlers and the stream go past it; indexer verify repairs it in every stage', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 10; salt++) await emitBlock(address, salt, 4, salt % 3);
  const proxy = await proxied();
  proxy.fault('dropLog', { prefer: 'crowded', times: 1, methods: ['eth_getLogs'] });
  const nc = await connected();
  const ix = await indexer('repair dropped', address, proxy, { worker: 'none' });
  // A worker process with /metrics, to read the repairs' counter.
  const metricsPort = await freePort();
  t.workerProcess({ ...ix.env, METRICS_PORT: String(metricsPort) });
  await caughtUp(ix);
  // In realtime too: a new block of four transfers loses one.
  proxy.fault('dropLog', { prefer: 'crowded', times: 1, methods: ['eth_getLogs'] });
  await emitBlock(address, 11, 4, 1);
  await caughtUp(ix);
  assert.equal(proxy.dropped.length, 2, 'two logs were dropped');
  const stored = await t.stack.db.query(`SELECT count(*)::int AS n FROM "${ix.name}".emitter_transfer`);
  assert.equal(stored.rows[0].n, 10 * 4 + 4 - 2, 'two events are missing before the repair');

  const printed = await verify(ix);
  assert.match(printed, /events 2 added, 0 removed, 0 changed/);
  const { repaired } = await everyStageEqualsChain(ix, address, nc);
  assert.equal(repaired, 2, 'the two events entered the stream as repairs');
  const s = await ix.status();
  assert.deepEqual([s.lastVerification?.added, s.lastVerification?.removed, s.lastVerification?.changed], [2, 0, 0]);
  const recorded = await t.stack.db.query(`SELECT added, removed, changed FROM "${ix.name}"._verifications ORDER BY id DESC LIMIT 1`);
  assert.deepEqual(recorded.rows[0], { added: 2, removed: 0, changed: 0 });
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(metrics, new RegExp(`indexer_repairs_total\\{indexer="${ix.name}",chain_id="${t.chain.chainId}",kind="added"\\} 2`));
  console.log(`# dropped ${JSON.stringify(proxy.dropped)}; ${printed.trim()}`);
  await ix.close();
});

test('an endpoint changes one log and invents another: the repair undoes the invented event and changes the other in the derived tables, and retracts and republishes them in the stream', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 21; salt <= 26; salt++) await emitBlock(address, salt, 3, salt % 3);
  const proxy = await proxied();
  const nc = await connected();
  const ix = await indexer('repair altered', address, proxy);
  await caughtUp(ix);
  proxy.fault('alterLog', { times: 1, methods: ['eth_getLogs'] });
  await emitBlock(address, 27, 3, 2);
  await caughtUp(ix);
  proxy.fault('extraLog', { times: 1, methods: ['eth_getLogs'] });
  await emitBlock(address, 28, 3, 1);
  await caughtUp(ix);
  assert.deepEqual([proxy.altered.length, proxy.invented.length], [1, 1]);

  const printed = await verify(ix);
  assert.match(printed, /events 0 added, 1 removed, 1 changed/);
  const { repaired } = await everyStageEqualsChain(ix, address, nc);
  assert.equal(repaired, 1, 'the changed event published again as a repair');
  const seen = await readStream(nc, `INDEXER_${ix.name.toUpperCase()}`, `indexer.${ix.name}.${t.chain.chainId}.>`);
  const invented = proxy.invented[0]!;
  const retraction = seen.find((m) => m.body.removed && m.body.blockNumber === invented.block && m.body.logIndex === invented.logIndex);
  assert.equal(retraction?.body.repair, true, 'the invented event is retracted, marked repair');
  console.log(`# altered ${JSON.stringify(proxy.altered)}, invented ${JSON.stringify(proxy.invented)}; ${printed.trim()}`);
  await ix.close();
});

test('a repair deeper than the undo log reaches: derived tables are rebuilt from stored events, with no eth_getLogs for stored blocks meanwhile', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  const proxy = await proxied();
  proxy.fault('dropLog', { prefer: 'crowded', times: 1, methods: ['eth_getLogs'] });
  for (let salt = 31; salt <= 36; salt++) await emitBlock(address, salt, 3, salt % 3);
  // Then enough blocks that the undo log (2 × maxReorgDepth below the head) no longer reaches them.
  await t.chain.mine(12);
  const nc = await connected();
  const ix = await indexer('repair rebuild', address, proxy, { chain: { maxReorgDepth: 2 } });
  await caughtUp(ix);
  assert.equal(proxy.dropped.length, 1);
  const before = await t.stack.db.query<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM "${ix.name}".handled`);

  await verify(ix);
  const getLogs = proxy.stats.methods.get('eth_getLogs') ?? 0;
  await everyStageEqualsChain(ix, address, nc);
  assert.equal(proxy.stats.methods.get('eth_getLogs') ?? 0, getLogs, 'the rebuild read stored events only');
  // A rebuild handled every event again; an undo would have replayed only from the repaired block.
  const again = await t.stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${ix.name}".handled WHERE id > $1`, [before.rows[0]!.id]);
  const total = await t.stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${ix.name}".emitter_transfer`);
  assert.equal(again.rows[0]!.n, total.rows[0]!.n, 'every stored event handled again: a rebuild');
  await ix.close();
});

test('the worker is SIGKILLed while the handlers replay after a repair: the end state is the same', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  const proxy = await proxied();
  proxy.fault('dropLog', { prefer: 'crowded', times: 1, methods: ['eth_getLogs'] });
  for (let salt = 41; salt <= 70; salt++) await emitBlock(address, salt, 5, salt % 4);
  const nc = await connected();
  const ix = await indexer('repair kill', address, proxy, { handlers: SLOW_HANDLERS, worker: 'process' });
  await caughtUp(ix);
  await verify(ix);
  await eventually('the handlers replaying after the repair', async () => ((await ix.status()).handlers!.repairing ? true : undefined), 60_000, 50);
  const worker = ix.worker as WorkerProcess;
  worker.child.kill('SIGKILL');
  await worker.exited;
  const next = spawnWorkerProcess(ix.env);
  t.defer(async () => {
    next.child.kill('SIGKILL');
    await next.exited;
  });
  await everyStageEqualsChain(ix, address, nc);
  assert.equal((await ix.status()).handlers!.repairing, null, 'caught up: the repair is over');
  await ix.close();
});
