import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Address } from 'viem';
import { startTestChain, type TestChain } from '../helpers/chain';
import { e2e, indexerEnv } from '../helpers/fixture';
import { assertMatchesChain, type TableExpectation } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { uniqueName } from '../helpers/stack';
import { eventually, runCli, startInProcessWorker, type CliRun } from '../helpers/workers';
import type { IndexerStatus } from '../../src/workflows/messages';

/**
 * One config, two chains (two anvils with different chain ids), started with `indexer start`:
 * one workflow per chain, one schema, rows told apart by chain_id. The same contract name on both
 * chains shares a table; distinct names get their own.
 */

let chainB: TestChain;
const fx = e2e({
  chain: { chainId: 31337 },
  // The second chain: its own anvil, another chain id.
  setup: async ({ defer }) => {
    chainB = await startTestChain({ chainId: 31338 });
    defer(() => chainB.stop());
  },
});

const emitter = compileFixture('Emitter');
const table = (contract: string): TableExpectation => ({
  signature: 'Transfer(address,address,uint256)',
  table: `${contract}_transfer`,
  columns: ['from', 'to', 'value'],
});

// Not publicClient.getBlockNumber(): viem caches it, and right after a receipt it can lag a block.
const headOf = async (chain: TestChain) => BigInt(await chain.publicClient.request({ method: 'eth_blockNumber' }));

function ok(run: CliRun, what: string): CliRun {
  assert.equal(run.code, 0, `${what} exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
}

test('one indexer over two chains: a workflow per chain, rows told apart by chain_id', { timeout: 180_000 }, async () => {
  // Same deployer, same nonces: each contract has the same address on both chains, so only
  // chain_id can tell their rows apart.
  const [emitterA, emitterB] = [await fx.chain.deploy(emitter.abi, emitter.bytecode), await chainB.deploy(emitter.abi, emitter.bytecode)];
  const left: Address = await fx.chain.deploy(emitter.abi, emitter.bytecode);
  const right: Address = await chainB.deploy(emitter.abi, emitter.bytecode);
  assert.equal(emitterA, emitterB);
  assert.equal(left, right);

  // Different traffic on each chain, spread over enough blocks for several backfill ranges.
  const traffic = async (chain: TestChain, salts: bigint[], gap: number) => {
    for (const salt of salts) {
      await chain.send(emitterA, emitter.abi, 'emitMany', [salt % 7n + 1n, salt]);
      await chain.send(left, emitter.abi, 'emitMany', [salt % 5n + 2n, salt + 500n]);
      await chain.mine(gap);
    }
  };
  await Promise.all([traffic(fx.chain, [1n, 2n, 3n, 4n, 5n], 40), traffic(chainB, [11n, 12n, 13n], 70)]);
  const heads = { a: await headOf(fx.chain), b: await headOf(chainB) };

  const name = uniqueName('two chains');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-two-chains-'));
  fx.defer(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = path.join(dir, 'indexer.config.json');
  const abiPath = path.join(dir, 'Emitter.json');
  writeFileSync(abiPath, JSON.stringify({ abi: emitter.abi }));
  const tuning = { maxBlockRange: 25, maxInFlight: 3, pollIntervalMs: 200 };
  writeFileSync(
    configPath,
    JSON.stringify({
      name,
      chains: {
        alpha: { id: 31337, rpc: fx.chain.url, ...tuning },
        beta: { id: 31338, rpc: [chainB.url], ...tuning },
      },
      contracts: [
        { name: 'Emitter', chain: 'alpha', address: emitterA, abi: emitter.abi },
        { name: 'Emitter', chain: 'beta', address: emitterB, abi: './Emitter.json' },
        { name: 'Left', chain: 'alpha', address: left, abi: './Emitter.json' },
        { name: 'Right', chain: 'beta', address: right, abi: emitter.abi },
      ],
    }),
  );
  const env = { ...indexerEnv(fx.stack, name), LOG_LEVEL: 'warn' };
  const cli = (...args: string[]) => runCli(args, env, { cwd: dir });
  const ids = { a: `indexer:${name}:31337`, b: `indexer:${name}:31338` };
  const status = (id: string) => fx.stack.client.workflow.getHandle(id).query<IndexerStatus>('status');
  const waitFor = (id: string, block: bigint) =>
    eventually(`${id} to reach ${block}`, async () => ((await status(id)).checkpoint >= Number(block) ? true : undefined), 120_000);

  const worker = await startInProcessWorker(fx.stack, { taskQueue: name, rpc: { 31337: [fx.chain.url], 31338: [chainB.url] } });
  fx.defer(() => worker.stop());
  const start = ok(await cli('start', '--config', configPath), 'indexer start');
  assert.match(start.stdout, new RegExp(`started ${ids.a} \\(Emitter, Left\\)`));
  assert.match(start.stdout, new RegExp(`started ${ids.b} \\(Emitter, Right\\)`));

  const matchChains = async (h: { a: bigint; b: bigint }) => {
    const check = (chain: TestChain, address: Address, contract: string, toBlock: bigint) =>
      assertMatchesChain(fx.stack.db, chain.publicClient, { schema: name, abi: emitter.abi, address, chainId: chain.chainId, toBlock, tables: [table(contract)] });
    return {
      emitterA: (await check(fx.chain, emitterA, 'emitter', h.a)).rows,
      emitterB: (await check(chainB, emitterB, 'emitter', h.b)).rows,
      left: (await check(fx.chain, left, 'left', h.a)).rows,
      right: (await check(chainB, right, 'right', h.b)).rows,
    };
  };
  const rowsByChain = async (t: string) =>
    Object.fromEntries(
      (await fx.stack.db.query<{ chain_id: string; n: string }>(`SELECT chain_id, count(*) AS n FROM "${name}"."${t}" GROUP BY chain_id ORDER BY chain_id`)).rows.map(
        (r) => [r.chain_id, Number(r.n)],
      ),
    );

  // Backfill.
  await Promise.all([waitFor(ids.a, heads.a), waitFor(ids.b, heads.b)]);
  const backfilled = await matchChains(heads);
  const sum = (salts: bigint[], f: (s: bigint) => bigint) => salts.reduce((n, s) => n + Number(f(s)), 0);
  assert.deepStrictEqual(backfilled, {
    emitterA: sum([1n, 2n, 3n, 4n, 5n], (s) => (s % 7n) + 1n),
    emitterB: sum([11n, 12n, 13n], (s) => (s % 7n) + 1n),
    left: sum([1n, 2n, 3n, 4n, 5n], (s) => (s % 5n) + 2n),
    right: sum([11n, 12n, 13n], (s) => (s % 5n) + 2n),
  });
  // The shared table holds both chains; each distinct one only its own.
  assert.deepStrictEqual(await rowsByChain('emitter_transfer'), { '31337': backfilled.emitterA, '31338': backfilled.emitterB });
  assert.deepStrictEqual(await rowsByChain('left_transfer'), { '31337': backfilled.left });
  assert.deepStrictEqual(await rowsByChain('right_transfer'), { '31338': backfilled.right });

  // `indexer pause <name>` pauses every chain of the indexer: new events wait until `resume`.
  const pause = ok(await cli('pause', name), 'indexer pause');
  assert.match(pause.stdout, new RegExp(`pause sent to ${ids.a}`));
  assert.match(pause.stdout, new RegExp(`pause sent to ${ids.b}`));
  for (const id of [ids.a, ids.b]) assert.equal((await status(id)).mode, 'paused');
  // In-flight work finishes (DESIGN.md: pause schedules nothing new); wait until none is pending.
  for (const id of [ids.a, ids.b]) {
    await eventually(`${id} settled`, async () => {
      const described = await fx.stack.client.workflow.getHandle(id).describe();
      return (described.raw.pendingActivities ?? []).length === 0 ? true : undefined;
    }, 30_000, 200);
  }
  const pausedAt = { a: (await status(ids.a)).checkpoint, b: (await status(ids.b)).checkpoint };

  // Realtime on both, at once.
  await Promise.all([traffic(fx.chain, [6n, 7n], 3), traffic(chainB, [14n], 2)]);
  const newHeads = { a: await headOf(fx.chain), b: await headOf(chainB) };
  await new Promise((r) => setTimeout(r, 1_000)); // several poll intervals
  assert.equal((await status(ids.a)).checkpoint, pausedAt.a, 'paused: chain 31337 does not move');
  assert.equal((await status(ids.b)).checkpoint, pausedAt.b, 'paused: chain 31338 does not move');
  ok(await cli('resume', name), 'indexer resume');
  await Promise.all([waitFor(ids.a, newHeads.a), waitFor(ids.b, newHeads.b)]);
  const all = await matchChains(newHeads);
  assert.ok(all.emitterA > backfilled.emitterA && all.emitterB > backfilled.emitterB && all.left > backfilled.left && all.right > backfilled.right);

  // Each chain keeps its own checkpoint.
  const { rows: checkpoints } = await fx.stack.db.query<{ chain_id: string; block_number: string }>(
    `SELECT chain_id, block_number FROM "${name}"._checkpoints ORDER BY chain_id`,
  );
  assert.deepStrictEqual(
    checkpoints.map((c) => c.chain_id),
    ['31337', '31338'],
  );
  assert.ok(Number(checkpoints[0]!.block_number) >= Number(newHeads.a) && Number(checkpoints[1]!.block_number) >= Number(newHeads.b));

  // `indexer status <name> --json` lists both chains.
  const statusRun = ok(await cli('status', name, '--json'), 'indexer status --json');
  const statuses = JSON.parse(statusRun.stdout) as IndexerStatus[];
  assert.ok(Array.isArray(statuses), 'two chains: status --json is an array');
  assert.deepStrictEqual(
    statuses.map((s) => [s.name, s.chainId, s.workflowId]).sort(),
    [
      [name, 31337, ids.a],
      [name, 31338, ids.b],
    ],
  );
  for (const s of statuses) {
    assert.equal(s.mode, 'realtime');
    assert.equal(s.lastError, null);
    assert.equal(s.logsIndexed, s.chainId === 31337 ? all.emitterA + all.left : all.emitterB + all.right);
  }
  const list = await eventually('indexer list to show both workflows', async () => {
    const run = ok(await cli('list'), 'indexer list');
    return run.stdout.includes(ids.a) && run.stdout.includes(ids.b) ? run : undefined;
  });
  assert.match(list.stdout, new RegExp(`${ids.a}\\s+realtime`));
  assert.match(list.stdout, new RegExp(`${ids.b}\\s+realtime`));

  // Stop both (one command, every chain of the indexer); each workflow completes.
  const stop = ok(await cli('stop', name), 'indexer stop');
  assert.match(stop.stdout, new RegExp(`stop sent to ${ids.a}`));
  assert.match(stop.stdout, new RegExp(`stop sent to ${ids.b}`));
  for (const id of [ids.a, ids.b]) {
    const result = (await fx.stack.client.workflow.getHandle(id).result()) as { stopped: boolean };
    assert.equal(result.stopped, true);
  }
});
