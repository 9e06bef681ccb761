import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseAbi, type Abi, type Address, type Hex } from 'viem';
import { startFaultProxy } from '../helpers/fault-proxy';
import { e2e, type TestIndexer } from '../helpers/fixture';
import { assertMatchesChain, type TableExpectation } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { assertOneLineError, eventually, runCli } from '../helpers/workers';

/**
 * Factory contracts (DESIGN.md, "Factory contracts") end to end: Uniswap V2's own factory and pairs,
 * deployed from @uniswap/v2-core's bytecode, and a factory of thousands of cheap children. The
 * oracle is the chain: the factory's PairCreated logs name the children, and their eth_getLogs,
 * decoded by test code, is what every table must hold.
 */

const require = createRequire(import.meta.url);
function uniswap(name: string): { abi: Abi; bytecode: Hex } {
  const artifact = require(`@uniswap/v2-core/build/${name}.json`) as { abi: Abi; bytecode: string };
  return { abi: artifact.abi, bytecode: `0x${artifact.bytecode.replace(/^0x/, '')}` };
}
const factoryArtifact = uniswap('UniswapV2Factory');
const pairArtifact = uniswap('UniswapV2Pair');
const tokenArtifact = uniswap('ERC20');
const erc20 = parseAbi(['function transfer(address to, uint256 value) returns (bool)']);
const PAIR_CREATED = 'event PairCreated(address indexed token0, address indexed token1, address pair, uint256)';

// Names written out by hand: they are the contract (DESIGN.md, "Tables").
const PAIR_TABLES: TableExpectation[] = [
  { signature: 'Approval(address,address,uint256)', table: 'pair_approval', columns: ['owner', 'spender', 'value'] },
  { signature: 'Burn(address,uint256,uint256,address)', table: 'pair_burn', columns: ['sender', 'amount0', 'amount1', 'to'] },
  { signature: 'Mint(address,uint256,uint256)', table: 'pair_mint', columns: ['sender', 'amount0', 'amount1'] },
  { signature: 'Swap(address,uint256,uint256,uint256,uint256,address)', table: 'pair_swap', columns: ['sender', 'amount0_in', 'amount1_in', 'amount0_out', 'amount1_out', 'to'] },
  { signature: 'Sync(uint112,uint112)', table: 'pair_sync', columns: ['reserve0', 'reserve1'] },
  { signature: 'Transfer(address,address,uint256)', table: 'pair_transfer', columns: ['from', 'to', 'value'] },
];

const t = e2e();

interface Uniswap {
  factory: Address;
  tokens: Address[];
  createPair: (a: number, b: number) => Promise<Address>;
  /** Liquidity, then a swap each way: Mint, Swap, Sync and Transfer events of the pair. */
  trade: (pair: Address, a: number, b: number) => Promise<void>;
}

async function deployUniswap(): Promise<Uniswap> {
  const c = t.chain;
  const factory = await c.deploy(factoryArtifact.abi, factoryArtifact.bytecode, [c.accounts[0]]);
  const tokens: Address[] = [];
  for (let i = 0; i < 4; i++) tokens.push(await c.deploy(tokenArtifact.abi, tokenArtifact.bytecode, [10n ** 30n]));
  const createPair = async (a: number, b: number) => {
    await c.send(factory, factoryArtifact.abi, 'createPair', [tokens[a], tokens[b]]);
    return (await c.publicClient.readContract({ address: factory, abi: factoryArtifact.abi, functionName: 'getPair', args: [tokens[a], tokens[b]] })) as Address;
  };
  // mint and swap update the pair's price accumulators only when the block's timestamp moved since
  // the last update: an estimate made in the same second as the last block can come out tens of
  // thousands of gas short once the next block lands in a new second, and the call run out of gas
  // (the likely cause of an intermittent "swap reverted" here).
  const PAIR_GAS = { gas: 400_000n };
  const trade = async (pair: Address, a: number, b: number) => {
    await c.send(tokens[a]!, erc20, 'transfer', [pair, 10n ** 21n]);
    await c.send(tokens[b]!, erc20, 'transfer', [pair, 2n * 10n ** 21n]);
    await c.send(pair, pairArtifact.abi, 'mint', [c.accounts[0]], PAIR_GAS);
    const token0 = (await c.publicClient.readContract({ address: pair, abi: pairArtifact.abi, functionName: 'token0' })) as Address;
    for (const tokenIn of [tokens[a]!, tokens[b]!]) {
      const [r0, r1] = (await c.publicClient.readContract({ address: pair, abi: pairArtifact.abi, functionName: 'getReserves' })) as [bigint, bigint, number];
      const inIs0 = tokenIn.toLowerCase() === token0.toLowerCase();
      const [reserveIn, reserveOut] = inIs0 ? [r0, r1] : [r1, r0];
      const amountIn = 10n ** 18n;
      const amountOut = (amountIn * 997n * reserveOut) / (reserveIn * 1000n + amountIn * 997n);
      await c.send(tokenIn, erc20, 'transfer', [pair, amountIn]);
      await c.send(pair, pairArtifact.abi, 'swap', [inIs0 ? 0n : amountOut, inIs0 ? amountOut : 0n, c.accounts[1], '0x'], PAIR_GAS);
    }
  };
  return { factory, tokens, createPair, trade };
}

/** The children the chain's factory events name, as `_factory_children` must hold them. */
async function chainChildren(factory: Address, toBlock: bigint): Promise<Array<[string, string, number]>> {
  const logs = await t.chain.publicClient.getLogs({ address: factory, event: parseAbi([PAIR_CREATED])[0], fromBlock: 0n, toBlock });
  // An unnamed argument makes viem give the args as an array: the pair is the third.
  return logs.map((l) => [String((l.args as unknown as unknown[])[2]).toLowerCase(), String(l.blockNumber), l.logIndex!]);
}

async function storedChildren(ix: TestIndexer): Promise<Array<[string, string, number]>> {
  const { rows } = await t.stack.db.query(`SELECT address, block_number, log_index FROM "${ix.name}"._factory_children WHERE contract = 'Pair' ORDER BY block_number, log_index`);
  return rows.map((r) => [r.address, r.block_number, r.log_index]);
}

/** Caught up with the head, children and every Pair table equal to the chain. */
async function equalsChain(ix: TestIndexer, factory: Address): Promise<void> {
  await eventually(
    `${ix.name} equal to the chain`,
    async () => {
      const head = await t.chain.publicClient.getBlockNumber();
      if ((await ix.status()).checkpoint < Number(head)) return undefined;
      const children = await chainChildren(factory, head);
      assert.deepStrictEqual(await storedChildren(ix), children);
      await assertMatchesChain(t.stack.db, t.chain.publicClient, {
        schema: ix.name,
        abi: pairArtifact.abi,
        address: children.map(([address]) => address as Address),
        chainId: t.chain.chainId,
        toBlock: head,
        tables: PAIR_TABLES,
        includeTransaction: true,
      });
      return true;
    },
    120_000,
    250,
  );
}

function pairsConfig(factory: Address, chain: Record<string, unknown> = {}) {
  return (name: string) => ({
    name,
    chains: { local: { id: t.chain.chainId, maxBlockRange: 10, maxInFlight: 4, pollIntervalMs: 100, ...chain } },
    contracts: [{ name: 'Pair', chain: 'local', address: { factory: { address: factory, event: PAIR_CREATED, parameter: 'pair' } }, abi: pairArtifact.abi, include: ['transaction'] }],
  });
}

test('Uniswap V2 pairs created before the indexer, inside backfill ranges and in realtime: every table equals the chain, transaction fields included', { timeout: 300_000 }, async () => {
  const uni = await deployUniswap();
  const ab = await uni.createPair(0, 1);
  await uni.trade(ab, 0, 1);
  await t.chain.mine(40);
  const ac = await uni.createPair(0, 2);
  await uni.trade(ac, 0, 2);
  await t.chain.mine(40);
  const bc = await uni.createPair(1, 2);
  await uni.trade(bc, 1, 2);

  const ix = await t.indexer({ title: 'uniswap pairs', config: pairsConfig(uni.factory) });
  await equalsChain(ix, uni.factory);
  const ranges = await t.stack.db.query(`SELECT count(*)::int AS n FROM "${ix.name}"._ranges`);
  assert.ok(ranges.rows[0].n > 5, 'the backfill ran in several ranges');

  // Realtime: a pair appears while the indexer follows the head, and trades at once.
  const bd = await uni.createPair(1, 3);
  await uni.trade(bd, 1, 3);
  await uni.trade(ab, 0, 1);
  await equalsChain(ix, uni.factory);

  const verified = await runCli(['verify', ix.name], ix.env);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, / 0 mismatches/, 'verification covers the children');
  await ix.close();
});

test('a reorg that removes a PairCreated block, and a later pair: children and rows equal the canonical chain', { timeout: 300_000 }, async () => {
  const uni = await deployUniswap();
  const ab = await uni.createPair(0, 1);
  await uni.trade(ab, 0, 1);
  const ix = await t.indexer({ title: 'uniswap reorg', config: pairsConfig(uni.factory, { maxReorgDepth: 32 }) });
  await equalsChain(ix, uni.factory);

  const before = await t.chain.publicClient.getBlockNumber();
  const cd = await uni.createPair(2, 3);
  await uni.trade(cd, 2, 3);
  await equalsChain(ix, uni.factory);
  assert.ok((await storedChildren(ix)).some(([address]) => address === cd.toLowerCase()), 'the new pair was indexed');

  // Replace every block since the pair's creation by empty ones: the pair never existed.
  const depth = Number((await t.chain.publicClient.getBlockNumber()) - before);
  await t.chain.publicClient.request({ method: 'anvil_reorg' as never, params: [depth, []] as never });
  await eventually('the reorg', async () => ((await ix.status()).reorgs >= 1 ? true : undefined), 60_000);
  await equalsChain(ix, uni.factory);
  assert.ok(!(await storedChildren(ix)).some(([address]) => address === cd.toLowerCase()), 'the orphaned pair is gone from _factory_children');
  const orphaned = await t.stack.db.query(`SELECT count(*)::int AS n FROM "${ix.name}".pair_sync WHERE address = $1`, [cd.toLowerCase()]);
  assert.equal(orphaned.rows[0].n, 0, "the orphaned pair's events are gone");

  const bd = await uni.createPair(1, 3);
  await uni.trade(bd, 1, 3);
  await equalsChain(ix, uni.factory);
  await ix.close();
});

test('thousands of children: backfill completes with a bounded number of requests per range, rows exact', { timeout: 300_000 }, async () => {
  const factoryArt = compileFixture('ChildFactory');
  const childArt = compileFixture('ChildFactory', 'Child');
  const factory = await t.chain.deploy(factoryArt.abi, factoryArt.bytecode);
  const CHILDREN = 2_400;
  for (let i = 0; i < CHILDREN / 300; i++) await t.chain.send(factory, factoryArt.abi, 'createMany', [300n, BigInt(i * 300)]);
  for (let round = 0; round < 6; round++) {
    await t.chain.send(factory, factoryArt.abi, 'pingSome', [BigInt(round), 11n, BigInt(1_000 + round)]);
    await t.chain.mine(3);
  }
  const head = await t.chain.publicClient.getBlockNumber();
  const proxy = await startFaultProxy(t.chain.url);
  t.defer(() => proxy.stop());
  const ix = await t.indexer({
    title: 'many children',
    rpc: [proxy.url()],
    config: (name) => ({
      name,
      chains: { local: { id: t.chain.chainId, maxBlockRange: 4, maxInFlight: 3, pollIntervalMs: 100, maxAddressesPerRequest: 500 } },
      contracts: [
        {
          name: 'Child',
          chain: 'local',
          address: { factory: { address: factory, event: 'event Created(address indexed creator, address child, uint256 n)', parameter: 'child' } },
          abi: childArt.abi,
          endBlock: Number(head),
        },
      ],
    }),
  });
  await eventually('the indexer to finish', async () => ((await ix.status()).mode === 'done' ? true : undefined), 240_000);

  const { rows: children } = await t.stack.db.query(`SELECT address FROM "${ix.name}"._factory_children ORDER BY block_number, log_index`);
  assert.equal(children.length, CHILDREN);
  const result = await assertMatchesChain(t.stack.db, t.chain.publicClient, {
    schema: ix.name,
    abi: childArt.abi,
    address: children.map((r) => r.address as Address),
    chainId: t.chain.chainId,
    toBlock: head,
    tables: [{ signature: 'Ping(uint256)', table: 'child_ping', columns: ['n'] }],
  });
  assert.ok(result.rows > CHILDREN, 'constructor pings (in the creation block) and later ones');

  const sizes = proxy.stats.getLogsAddresses;
  const ranges = (await t.stack.db.query(`SELECT count(*)::int AS n FROM "${ix.name}"._ranges`)).rows[0].n as number;
  const childRequests = sizes.filter((n) => n > 1).length;
  const perRange = Math.ceil(CHILDREN / 500);
  console.log(`# ${ranges} ranges, ${sizes.length} eth_getLogs (${childRequests} for children, largest address list ${Math.max(...sizes)}), at most ${perRange} per range expected`);
  assert.ok(Math.max(...sizes) <= 500, 'address lists are chunked');
  assert.ok(childRequests <= ranges * perRange, `${childRequests} child requests for ${ranges} ranges: bounded by ${perRange} per range`);
  await ix.close();
});

test('bad factory input: an event not in signature form, a parameter that is not an address argument: one-line errors, nothing written', { timeout: 120_000 }, async () => {
  const factory = '0x00000000000000000000000000000000000000f0';
  const cases = [
    { factory: { address: factory, event: 'PairCreated', parameter: 'pair' }, expected: /contracts\.Pair\.address\.factory\.event: "PairCreated" is not an event signature/ },
    { factory: { address: factory, event: PAIR_CREATED, parameter: 'allPairs' }, expected: /contracts\.Pair\.address\.factory\.parameter: "allPairs" is not an address argument of PairCreated \(its address arguments: token0, token1, pair\)/ },
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bad-factory-'));
  for (const [i, c] of cases.entries()) {
    const name = `bad_factory_${i}`;
    const configPath = path.join(dir, `${name}.json`);
    writeFileSync(configPath, JSON.stringify({ name, chains: { local: { id: t.chain.chainId } }, contracts: [{ name: 'Pair', chain: 'local', address: { factory: c.factory }, abi: pairArtifact.abi }] }));
    const run = await runCli(['start', '--config', configPath], { TEMPORAL_ADDRESS: t.stack.temporal.address, TEMPORAL_TASK_QUEUE: name, DATABASE_URL: t.stack.databaseUrl });
    assertOneLineError(run, c.expected, c.factory.event);
    assert.equal((await t.stack.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name])).rows.length, 0, 'nothing written');
  }
});
