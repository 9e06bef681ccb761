import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import type { Address } from 'viem';
import { tracingOptions } from '../../src/worker';
import { indexerWorkflowId } from '../../src/spec';
import { FAST_MINING_ANVIL_ARGS, seedEmitter } from '../helpers/chain';
import { e2e } from '../helpers/fixture';
import { assertMatchesChain, EMITTER_TABLES } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { eventually, runCli, type WorkerProcess } from '../helpers/workers';

const emitter = compileFixture('Emitter');
const TABLES = EMITTER_TABLES;

let address: Address;
let head: bigint;
let totalLogs = 0;
const t = e2e({
  chain: { anvilArgs: FAST_MINING_ANVIL_ARGS },
  // Dense blocks first, then long stretches of sparse ones: ranges take unequal time and finish out of order.
  setup: async ({ chain }) =>
    ({ address, head, totalLogs } = await seedEmitter(chain, emitter, { txs: 30, logs: (salt) => (salt <= 10n ? 300n : 60n), mine: (salt) => (salt <= 10n ? 1 : 400) })),
});

/** The Emitter's indexer config, ranges of `maxBlockRange` blocks, four in flight. */
function emitterConfig(maxBlockRange: number) {
  return (name: string) => ({
    name,
    chains: { local: { id: t.chain.chainId, maxBlockRange, maxInFlight: 4, pollIntervalMs: 200 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
  });
}

/** Blocks covered by finished ranges, as one sorted list of [from, to]. */
async function finishedRanges(schema: string): Promise<Array<[number, number]>> {
  const { rows } = await t.stack.db.query<{ from_block: string; to_block: string }>(`SELECT from_block, to_block FROM "${schema}"._ranges ORDER BY from_block`);
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
  const ix = await t.indexer({
    title: 'backfill window',
    config: emitterConfig(40),
  });
  const name = ix.name;

  // Every checkpoint the workflow reports must sit inside the contiguous prefix of committed ranges.
  let observations = 0;
  for (;;) {
    const s = await ix.status().catch(() => undefined);
    if (s && s.checkpoint >= 0) {
      const covered = coveredUpTo(await finishedRanges(name), 0);
      assert.ok(s.checkpoint <= covered, `checkpoint ${s.checkpoint} passed a gap: ranges are contiguous only up to ${covered}`);
      observations += 1;
    }
    if (s && s.checkpoint >= Number(head)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(observations > 5, 'the checkpoint was watched while the backfill ran');

  const { rows } = await t.stack.db.query<{ from_block: string }>(`SELECT from_block FROM "${name}"._ranges ORDER BY completed_at`);
  const order = rows.map((r) => Number(r.from_block));
  const outOfOrder = order.filter((from, i) => i > 0 && from < order[i - 1]!).length;
  assert.ok(outOfOrder > 0, 'ranges finished out of order (several in flight)');

  const result = await assertMatchesChain(t.stack.db, t.chain.publicClient, { schema: name, abi: emitter.abi, address, chainId: t.chain.chainId, toBlock: head, tables: TABLES });
  assert.equal(result.rows, totalLogs);
  const { rows: stored } = await t.stack.db.query<{ block_number: string }>(`SELECT block_number FROM "${name}"._checkpoints`);
  assert.ok(Number(stored[0]!.block_number) >= Number(head), 'the stored checkpoint caught up too');

  // Determinism: every run of this workflow replays from its history without a nondeterminism error.
  const histories = t.stack.client.workflow.list({ query: `WorkflowId = '${indexerWorkflowId(name, t.chain.chainId)}'` }).intoHistories();
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: t.stack.bundle, replayName: name, ...(await tracingOptions(undefined)) }, histories)) {
    assert.equal(result.error, undefined, `replay of ${result.workflowId}: ${String(result.error)}`);
    replayed += 1;
  }
  assert.ok(replayed >= 1);
});

test('the worker process is SIGKILLed mid-backfill; a new worker finishes and the data is exactly the chain', { timeout: 300_000 }, async () => {
  const ix = await t.indexer({
    title: 'crash',
    config: emitterConfig(15),
    worker: 'process',
    start: false,
  });
  const { name, env } = ix;
  const first = ix.worker as WorkerProcess;
  const started = await runCli(['start', '--config', ix.configPath], env);
  assert.equal(started.code, 0, started.stderr);

  // Kill it once part of the chain is indexed and ranges are in flight.
  const third = Math.floor(Number(head) / 3);
  await eventually('a third of the backfill', async () => ((await ix.status()).checkpoint >= third ? true : undefined), 180_000, 100);
  first.child.kill('SIGKILL');
  await first.exited;
  const atKill = await ix.status().catch(() => undefined);
  assert.ok(!atKill || atKill.checkpoint < Number(head), 'killed before the backfill finished');

  const second = t.workerProcess(env, 'SIGTERM');
  await ix.waitForCheckpoint(head, 240_000);
  const result = await assertMatchesChain(t.stack.db, t.chain.publicClient, { schema: name, abi: emitter.abi, address, chainId: t.chain.chainId, toBlock: head, tables: TABLES });
  assert.equal(result.rows, totalLogs, 'no row missing, none duplicated');
  assert.match(second.output(), /worker started/);
});
