import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { encodeFunctionData, parseAbi, type Abi, type Address } from 'viem';
import { demoTokenArtifact } from '../../src/dev/demo';
import { freshHolder, tokenAmount, writeModule } from '../helpers/balances';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { e2e, type TestIndexer } from '../helpers/fixture';
import { assertOneLineError, eventually, runCli, type WorkerProcess } from '../helpers/workers';

/**
 * Handlers that read the chain (DESIGN.md v3, "Handlers read the chain"), end to end on a real
 * Temporal, PostgreSQL and anvil, with a real ERC-20 (Uniswap v2's): every Transfer records the
 * recipient's balanceOf and the totalSupply at the event's block, and (one event in two) a
 * transferFrom that reverts; a block handler snapshots the supply and the deployer's balance every
 * 10 blocks. The oracle is eth_call at each block on the canonical chain, made by the test.
 */

const t = e2e();
const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-chain-reads-'));
const { abi: tokenAbi, bytecode } = demoTokenArtifact();
const erc20 = parseAbi(['function balanceOf(address) view returns (uint256)', 'function totalSupply() view returns (uint256)', 'function transfer(address to, uint256 value) returns (bool)']);
const EVERY = 10;

function handlers(token: Address, deployer: Address): string {
  return writeModule(
    dir,
    `reads-${token}.mjs`,
    `const abi = [
  { type: 'function', name: 'balanceOf', stateMutability: 'view', inputs: [{ name: 'owner', type: 'address' }], outputs: [{ type: 'uint256' }] },
  { type: 'function', name: 'totalSupply', stateMutability: 'view', inputs: [], outputs: [{ type: 'uint256' }] },
  { type: 'function', name: 'transferFrom', stateMutability: 'nonpayable', inputs: [{ name: 'from', type: 'address' }, { name: 'to', type: 'address' }, { name: 'value', type: 'uint256' }], outputs: [{ type: 'bool' }] },
];
export default {
  async setup({ db }) {
    await db.query('create sequence if not exists handled_order');
    await db.query('create table if not exists reads (block_number bigint not null, log_index integer not null, account text not null, balance numeric(78,0) not null, supply numeric(78,0) not null, revert text, seq bigint not null, primary key (block_number, log_index))');
    await db.query('create table if not exists snapshots (block_number bigint primary key, supply numeric(78,0) not null, deployer numeric(78,0) not null, seq bigint not null)');
  },
  on: {
    async 'Token:Transfer'({ event, db, client }) {
      const address = event.log.address;
      const [balance, supply] = await Promise.all([
        client.readContract({ address, abi, functionName: 'balanceOf', args: [event.args.to] }),
        client.readContract({ address, abi, functionName: 'totalSupply' }),
      ]);
      let revert = null;
      if (event.log.index % 2 === 0) {
        try {
          await client.readContract({ address, abi, functionName: 'transferFrom', args: [event.args.to, event.args.from, event.args.value + 1n] });
          revert = 'did not revert';
        } catch (e) {
          revert = e.shortMessage ?? String(e.message).split('\\n')[0];
        }
      }
      await db.query("insert into reads values ($1, $2, $3, $4, $5, $6, nextval('handled_order'))", [event.block.number, event.log.index, event.args.to, balance, supply, revert]);
    },
    async 'Snapshot:block'({ event, db, client }) {
      const [supply, deployer] = await Promise.all([
        client.readContract({ address: '${token}', abi, functionName: 'totalSupply' }),
        client.readContract({ address: '${token}', abi, functionName: 'balanceOf', args: ['${deployer}'] }),
      ]);
      await db.query("insert into snapshots values ($1, $2, $3, nextval('handled_order'))", [event.block.number, supply, deployer]);
    },
  },
};
`,
  );
}

/** The snapshots start at `from` (a block where the token exists: before it, its calls return no data). */
function config(token: Address, deployer: Address, from: bigint, chain: Record<string, unknown> = {}) {
  return (name: string) => ({
    name,
    chains: { local: { id: t.chain.chainId, maxBlockRange: 30, maxInFlight: 2, pollIntervalMs: 100, maxReorgDepth: 32, ...chain } },
    contracts: [{ name: 'Token', chain: 'local', address: token, abi: tokenAbi as Abi, events: ['Transfer'] }],
    blocks: { Snapshot: { chain: 'local', every: EVERY, startBlock: Number(from) } },
    handlers: handlers(token, deployer),
  });
}

/** Transfers of realistic amounts from the deployer and from the accounts it funded. */
async function transfers(token: Address, round: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const from = t.chain.accounts[(round + i) % 4]!;
    const to = i % 3 === 0 ? t.chain.accounts[(round + i + 1) % 4]! : freshHolder(`reads ${round}`, i);
    const value = tokenAmount(`${round}:${i}`) % 10n ** 24n;
    const hash = await t.chain.wallet.writeContract({ address: token, abi: erc20, functionName: 'transfer', args: [to, value], account: from } as never);
    await t.chain.publicClient.waitForTransactionReceipt({ hash });
  }
}

async function deployToken(): Promise<{ token: Address; deployer: Address }> {
  const deployer = t.chain.accounts[0]!;
  const token = await t.chain.deploy(tokenAbi as Abi, bytecode, [10n ** 27n]);
  for (const account of t.chain.accounts.slice(1, 4)) {
    const hash = await t.chain.wallet.writeContract({ address: token, abi: erc20, functionName: 'transfer', args: [account, 10n ** 25n + 7n], account: deployer } as never);
    await t.chain.publicClient.waitForTransactionReceipt({ hash });
  }
  return { token, deployer };
}

const at = (block: bigint) => ({ blockNumber: block });

/** Every read equals eth_call at its block on the canonical chain; snapshots exactly at the interval blocks, after their block's events; no cache entry of a block off the chain. */
async function readsEqualChain(ix: TestIndexer, token: Address, deployer: Address, startBlock: bigint): Promise<{ reads: number; snapshots: number }> {
  const client = t.chain.publicClient;
  const head = await client.getBlockNumber();
  await eventually(`${ix.name}: handlers at the head ${head}`, async () => ((await ix.status()).handlers!.checkpoint >= Number(head) ? true : undefined), 180_000);
  const db = t.stack.db;
  const logs = await client.getLogs({ address: token, event: parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)'])[0], fromBlock: 0n, toBlock: head });
  const { rows: reads } = await db.query<{ block_number: string; log_index: number; account: string; balance: string; supply: string; revert: string | null; seq: string }>(
    `SELECT block_number::text, log_index, account, balance::text, supply::text, revert, seq::text FROM "${ix.name}".reads r ORDER BY r.block_number, r.log_index`,
  );
  assert.deepStrictEqual(reads.map((r) => `${r.block_number}:${r.log_index}`), logs.map((l) => `${l.blockNumber}:${l.logIndex}`), 'one read row per canonical Transfer');
  for (const [i, log] of logs.entries()) {
    const row = reads[i]!;
    const block = log.blockNumber!;
    const [balance, supply] = await Promise.all([
      client.readContract({ address: token, abi: erc20, functionName: 'balanceOf', args: [log.args.to!], ...at(block) }),
      client.readContract({ address: token, abi: erc20, functionName: 'totalSupply', ...at(block) }),
    ]);
    assert.deepStrictEqual([row.account, row.balance, row.supply], [log.args.to!.toLowerCase(), balance.toString(), supply.toString()], `reads of ${block}:${log.logIndex} equal eth_call at that block`);
    if (log.logIndex! % 2 === 0) assert.match(String(row.revert), /revert|ds-math-sub-underflow/i, `the transferFrom of ${block}:${log.logIndex} reverted, and the handler caught it`);
    else assert.equal(row.revert, null);
  }
  const { rows: snapshots } = await db.query<{ block_number: string; supply: string; deployer: string; seq: string }>(
    `SELECT block_number::text, supply::text, deployer::text, seq::text FROM "${ix.name}".snapshots s ORDER BY s.block_number`,
  );
  const interval = [];
  for (let b = startBlock; b <= head; b += BigInt(EVERY)) interval.push(b.toString());
  assert.deepStrictEqual(snapshots.map((s) => s.block_number), interval, 'one snapshot per interval block of the canonical chain');
  for (const s of snapshots) {
    const block = BigInt(s.block_number);
    const [supply, balance] = await Promise.all([
      client.readContract({ address: token, abi: erc20, functionName: 'totalSupply', ...at(block) }),
      client.readContract({ address: token, abi: erc20, functionName: 'balanceOf', args: [deployer], ...at(block) }),
    ]);
    assert.deepStrictEqual([s.supply, s.deployer], [supply.toString(), balance.toString()], `snapshot of block ${block}`);
    // After every Transfer of its block, before any of a later block.
    for (const r of reads) {
      if (BigInt(r.block_number) === block) assert.ok(BigInt(r.seq) < BigInt(s.seq), `snapshot ${block} after the block's events`);
      if (BigInt(r.block_number) > block) assert.ok(BigInt(r.seq) > BigInt(s.seq), `snapshot ${block} before later blocks' events`);
    }
  }
  const { rows: cached } = await db.query<{ block_number: string; block_hash: string }>(`SELECT DISTINCT block_number::text, block_hash FROM "${ix.name}"._rpc_cache`);
  for (const c of cached) {
    const canonical = await client.getBlock({ blockNumber: BigInt(c.block_number) });
    assert.equal(c.block_hash, canonical.hash, `cached reads of block ${c.block_number} are of the canonical block`);
  }
  return { reads: reads.length, snapshots: snapshots.length };
}

test('reads of balanceOf and totalSupply at each Transfer, a caught revert, and a snapshot every 10 blocks: equal to eth_call on the canonical chain through SIGKILLs and reorgs of depth 1, 5 and 12', { timeout: 420_000 }, async () => {
  const { token, deployer } = await deployToken();
  const startBlock = await t.chain.publicClient.getBlockNumber();
  for (let round = 1; round <= 6; round++) await transfers(token, round, 4);
  const ix = await t.indexer({ title: 'chain reads', config: config(token, deployer, startBlock), worker: 'process' });
  let worker = ix.worker as WorkerProcess;
  // SIGKILLs while handlers run (more transfers keep them busy).
  for (let kill = 1; kill <= 2; kill++) {
    await transfers(token, 10 + kill, 6);
    worker.child.kill('SIGKILL');
    await worker.exited;
    worker = t.workerProcess(ix.env);
  }
  await readsEqualChain(ix, token, deployer, startBlock);
  let reorgs = 0;
  for (const depth of [1, 5, 12]) {
    const tx = (i: number) => ({
      from: t.chain.accounts[i % 4]!,
      to: token,
      data: encodeFunctionData({ abi: erc20, functionName: 'transfer', args: [freshHolder(`reorg ${depth}`, i), tokenAmount(`reorg ${depth}:${i}`) % 10n ** 24n] }),
    });
    await t.chain.publicClient.request({ method: 'anvil_reorg' as never, params: [depth, [[tx(0), 0], [tx(1), depth - 1]]] as never });
    reorgs += 1;
    await eventually(`reorg ${reorgs}`, async () => ((await ix.status()).reorgs >= reorgs ? true : undefined), 60_000);
    const seen = await readsEqualChain(ix, token, deployer, startBlock);
    console.log(`# after the depth-${depth} reorg: ${seen.reads} reads, ${seen.snapshots} snapshots equal to eth_call on the canonical chain`);
  }
  await ix.close();
});

test('indexer rebuild answers every read from the cache: zero eth_call at the endpoint, and tables equal to before', { timeout: 300_000 }, async () => {
  const { token, deployer } = await deployToken();
  const startBlock = await t.chain.publicClient.getBlockNumber();
  for (let round = 21; round <= 26; round++) await transfers(token, round, 3);
  const proxy = await startFaultProxy(t.chain.url);
  t.defer(() => proxy.stop());
  const ix = await t.indexer({ title: 'chain reads rebuild', config: config(token, deployer, startBlock), rpc: [proxy.url()] });
  await readsEqualChain(ix, token, deployer, startBlock);
  const before = await tablesAsText(ix);
  const calls = proxy.stats.methods.get('eth_call') ?? 0;
  assert.ok(calls > 0, 'the first run read the chain');
  const rebuild = await runCli(['rebuild', ix.name], ix.env);
  assert.equal(rebuild.code, 0, rebuild.stderr);
  await readsEqualChain(ix, token, deployer, startBlock);
  assert.equal(proxy.stats.methods.get('eth_call') ?? 0, calls, 'no eth_call during the rebuild');
  assert.deepStrictEqual(await tablesAsText(ix), before, 'the same tables');
  console.log(`# rebuild: ${calls} eth_call in the first run, 0 in the rebuild`);
  await ix.close();
});

async function tablesAsText(ix: TestIndexer): Promise<string[][]> {
  const db = t.stack.db;
  const reads = await db.query<{ r: string }>(`SELECT ROW(block_number, log_index, account, balance, supply, revert)::text AS r FROM "${ix.name}".reads ORDER BY 1`);
  const snapshots = await db.query<{ r: string }>(`SELECT ROW(block_number, supply, deployer)::text AS r FROM "${ix.name}".snapshots ORDER BY 1`);
  return [reads.rows.map((x) => x.r), snapshots.rows.map((x) => x.r)];
}

test('a lagging endpoint beside an up-to-date one is never asked to read a block above its head', { timeout: 240_000 }, async () => {
  const { token, deployer } = await deployToken();
  const startBlock = await t.chain.publicClient.getBlockNumber();
  const lagging: FaultProxy = await startFaultProxy(t.chain.url);
  const honest: FaultProxy = await startFaultProxy(t.chain.url);
  t.defer(() => lagging.stop());
  t.defer(() => honest.stop());
  lagging.fault('lag', { blocks: 3 });
  const ix = await t.indexer({ title: 'chain reads lag', config: config(token, deployer, startBlock, { crossCheck: 'off' }), rpc: [lagging.url(), honest.url()] });
  for (let round = 31; round <= 36; round++) await transfers(token, round, 2);
  await readsEqualChain(ix, token, deployer, startBlock);
  const above = lagging.stats.reads.filter((r) => r.lagHead !== undefined && r.block > r.lagHead);
  assert.deepEqual(above, [], 'no read above the lagging node’s head');
  console.log(`# lagging endpoint: ${lagging.stats.reads.length} reads, all at or below its head; up-to-date endpoint: ${honest.stats.reads.length}`);
  await ix.close();
});

test('bad block sources and chain reads: every < 1, an unknown chain, a key naming no block source, a read of "latest": one-line errors', { timeout: 180_000 }, async () => {
  const { token, deployer } = await deployToken();
  const base = config(token, deployer, await t.chain.publicClient.getBlockNumber());
  // The environment of an indexer of this file (Temporal, database, RPC); the bad configs are files of their own.
  const env = (await t.indexer({ title: 'bad reads env', config: base, worker: 'none', start: false })).env;
  const bad = async (title: string, change: (c: Record<string, unknown>) => void, expected: RegExp) => {
    const c = base(`bad_${title.replace(/\W+/g, '_')}`);
    change(c);
    const file = path.join(dir, `${title.replace(/\W+/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    assertOneLineError(await runCli(['start', '--config', file], env), expected, title);
  };
  await bad('every zero', (c) => ((c.blocks as Record<string, { every: number }>).Snapshot!.every = 0), /blocks\.Snapshot\.every: must be a whole number of blocks ≥ 1/);
  await bad('unknown chain', (c) => ((c.blocks as Record<string, { chain: string }>).Snapshot!.chain = 'nowhere'), /blocks\.Snapshot\.chain: unknown chain "nowhere"/);
  const stray = writeModule(dir, 'stray-block.mjs', `export default { on: { 'Nope:block'() {} } };\n`);
  await bad('stray block key', (c) => (c.handlers = stray), /"Nope:block" names no configured event/);

  // A handler reading "latest" fails its event with the handler's name and the reason.
  const latest = writeModule(
    dir,
    'latest.mjs',
    `export default { on: { async 'Token:Transfer'({ client }) { await client.getBalance({ address: '${deployer}', blockTag: 'latest' }); } } };\n`,
  );
  await transfers(token, 41, 1);
  const ix = await t.indexer({ title: 'reads latest', config: (name) => ({ ...base(name), handlers: latest, blocks: undefined }) });
  const paused = await eventually('the handlers stage to pause', async () => {
    const s = await ix.status();
    return s.handlers?.paused ? s.handlers.lastError : undefined;
  }, 120_000);
  assert.match(String(paused), /^handler Token:Transfer failed at block \d+ log \d+: client\.getBalance at block "latest" in Token:Transfer .*pinned to the event's block/);
  await ix.close();
});
