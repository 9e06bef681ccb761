import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import type { Address } from 'viem';
import { tracingOptions } from '../../src/worker';
import { indexerWorkflowId } from '../../src/spec';
import { FAST_MINING_ANVIL_ARGS, startTestChain, type TestChain } from '../helpers/chain';
import { specsFrom, startIndexer, status, waitForCheckpoint } from '../helpers/indexer';
import { assertMatchesChain, EMITTER_TABLES } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { startStack, uniqueName, type TestStack } from '../helpers/stack';
import { eventually, runCli, spawnWorkerProcess, startInProcessWorker, type RunningWorker } from '../helpers/workers';

const emitter = compileFixture('Emitter');
const TABLES = EMITTER_TABLES;

let stack: TestStack;
let chain: TestChain;
let address: Address;
let head: bigint;
let totalLogs = 0;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  [stack, chain] = await Promise.all([startStack(), startTestChain({ anvilArgs: FAST_MINING_ANVIL_ARGS })]);
  address = await chain.deploy(emitter.abi, emitter.bytecode);
  // Dense blocks first, then long stretches of sparse ones: ranges take unequal time and finish out of order.
  for (let salt = 1n; salt <= 30n; salt++) {
    const count = salt <= 10n ? 300n : 60n;
    await chain.send(address, emitter.abi, 'emitMany', [count, salt]);
    totalLogs += Number(count);
    await chain.mine(salt <= 10n ? 1 : 400);
  }
  head = await chain.publicClient.getBlockNumber();
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await chain?.stop();
  await stack?.stop();
});

/** Blocks covered by finished ranges, as one sorted list of [from, to]. */
async function finishedRanges(schema: string): Promise<Array<[number, number]>> {
  const { rows } = await stack.db.query<{ from_block: string; to_block: string }>(`SELECT from_block, to_block FROM "${schema}"._ranges ORDER BY from_block`);
  return rows.map((r) => [Number(r.from_block), Number(r.to_block)]);
}

function coveredUpTo(ranges: Array<[number, number]>, start: number): number {
  let covered = start - 1;
  for (const [from, to] of ranges) {
    if (from > covered + 1) break;
    covered = Math.max(covered, to);
  }
  return covered;
}

test('a backfill of thousands of logs with ranges in flight at once: the checkpoint never passes a gap', { timeout: 300_000 }, async () => {
  const name = uniqueName('backfill window');
  const [spec] = specsFrom({
    name,
    chains: { local: { id: chain.chainId, maxBlockRange: 40, maxInFlight: 4, pollIntervalMs: 200 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
  });
  const worker: RunningWorker = await startInProcessWorker(stack, { taskQueue: name, rpc: { [chain.chainId]: [chain.url] } });
  cleanups.push(() => worker.stop());
  await startIndexer(stack.client, spec!, name);

  // Every checkpoint the workflow reports must sit inside the contiguous prefix of committed ranges.
  let observations = 0;
  for (;;) {
    const s = await status(stack.client, spec!).catch(() => undefined);
    if (s && s.checkpoint >= 0) {
      const covered = coveredUpTo(await finishedRanges(name), 0);
      assert.ok(s.checkpoint <= covered, `checkpoint ${s.checkpoint} passed a gap: ranges are contiguous only up to ${covered}`);
      observations += 1;
    }
    if (s && s.checkpoint >= Number(head)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(observations > 5, 'the checkpoint was watched while the backfill ran');

  const { rows } = await stack.db.query<{ from_block: string }>(`SELECT from_block FROM "${name}"._ranges ORDER BY completed_at`);
  const order = rows.map((r) => Number(r.from_block));
  const outOfOrder = order.filter((from, i) => i > 0 && from < order[i - 1]!).length;
  assert.ok(outOfOrder > 0, 'ranges finished out of order (several in flight)');

  const result = await assertMatchesChain(stack.db, chain.publicClient, { schema: name, abi: emitter.abi, address, chainId: chain.chainId, toBlock: head, tables: TABLES });
  assert.equal(result.rows, totalLogs);
  const { rows: stored } = await stack.db.query<{ block_number: string }>(`SELECT block_number FROM "${name}"._checkpoints`);
  assert.ok(Number(stored[0]!.block_number) >= Number(head), 'the stored checkpoint caught up too');

  // Determinism: every run of this workflow replays from its history without a nondeterminism error.
  const histories = stack.client.workflow.list({ query: `WorkflowId = '${indexerWorkflowId(name, chain.chainId)}'` }).intoHistories();
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: stack.bundle, replayName: name, ...(await tracingOptions(undefined)) }, histories)) {
    assert.equal(result.error, undefined, `replay of ${result.workflowId}: ${String(result.error)}`);
    replayed += 1;
  }
  assert.ok(replayed >= 1);
});

test('the worker process is SIGKILLed mid-backfill; a new worker finishes and the data is exactly the chain', { timeout: 300_000 }, async () => {
  const name = uniqueName('crash');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-crash-'));
  const configPath = path.join(dir, 'indexer.config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      name,
      chains: { local: { id: chain.chainId, maxBlockRange: 15, maxInFlight: 4, pollIntervalMs: 200 } },
      contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
    }),
  );
  const env = {
    TEMPORAL_ADDRESS: stack.temporal.address,
    TEMPORAL_TASK_QUEUE: name,
    DATABASE_URL: stack.databaseUrl,
    [`RPC_URL_${chain.chainId}`]: chain.url,
  };
  const first = spawnWorkerProcess(env);
  cleanups.push(async () => first.child.kill('SIGKILL'));
  const started = await runCli(['start', '--config', configPath], env);
  assert.equal(started.code, 0, started.stderr);
  const [spec] = specsFrom(JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(configPath, 'utf8'))));

  // Kill it once part of the chain is indexed and ranges are in flight.
  const third = Math.floor(Number(head) / 3);
  await eventually('a third of the backfill', async () => ((await status(stack.client, spec!)).checkpoint >= third ? true : undefined), 180_000, 100);
  first.child.kill('SIGKILL');
  await first.exited;
  const atKill = await status(stack.client, spec!).catch(() => undefined);
  assert.ok(!atKill || atKill.checkpoint < Number(head), 'killed before the backfill finished');

  const second = spawnWorkerProcess(env);
  cleanups.push(async () => {
    second.child.kill('SIGTERM');
    await second.exited;
  });
  await waitForCheckpoint(stack.client, spec!, head, 240_000);
  const result = await assertMatchesChain(stack.db, chain.publicClient, { schema: name, abi: emitter.abi, address, chainId: chain.chainId, toBlock: head, tables: TABLES });
  assert.equal(result.rows, totalLogs, 'no row missing, none duplicated');
  assert.match(second.output(), /worker started/);
});
