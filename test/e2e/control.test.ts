import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Address } from 'viem';
import { FAST_MINING_ANVIL_ARGS } from '../helpers/chain';
import { e2e, indexerEnv } from '../helpers/fixture';
import { assertMatchesChain, EMITTER_TABLES } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { uniqueName } from '../helpers/stack';
import { eventually, runCli, startInProcessWorker, type CliRun } from '../helpers/workers';
import type { IndexerWorkflowResult } from '../../src/workflows/indexer';
import type { IndexerStatus } from '../../src/workflows/messages';

/**
 * pause / resume / stop / start / status / list through the real `indexer` command, against a
 * real Temporal dev server, PostgreSQL, anvil and an in-process worker. The backfill is made long
 * (thousands of empty blocks, small ranges, two in flight) so that it can be paused mid-way.
 */

const t = e2e({ chain: { anvilArgs: FAST_MINING_ANVIL_ARGS } });

const emitter = compileFixture('Emitter');
const TABLES = EMITTER_TABLES;

// The status fields DESIGN.md promises ("Status"), with the JSON types they carry.
const STATUS_FIELDS: Record<string, (v: unknown) => boolean> = {
  name: (v) => typeof v === 'string',
  chainId: (v) => typeof v === 'number',
  workflowId: (v) => typeof v === 'string',
  runId: (v) => typeof v === 'string' && v.length > 0,
  mode: (v) => ['backfill', 'realtime', 'paused', 'rolling-back', 'done'].includes(v as string),
  paused: (v) => typeof v === 'boolean',
  checkpoint: (v) => typeof v === 'number',
  head: (v) => v === null || typeof v === 'number',
  safeHead: (v) => v === null || typeof v === 'number',
  lag: (v) => v === null || typeof v === 'number',
  blocksPerSecond: (v) => typeof v === 'number',
  logsPerSecond: (v) => typeof v === 'number',
  logsIndexed: (v) => typeof v === 'number',
  reorgs: (v) => typeof v === 'number',
  lastReorg: (v) => v === null || typeof v === 'object',
  lastVerification: (v) => v === null || typeof v === 'object',
  lastError: (v) => v === null || typeof v === 'string',
};

// Not publicClient.getBlockNumber(): viem caches it for the polling interval, and right after
// waitForTransactionReceipt it can answer a block below the one just mined.
const headNow = async () => BigInt(await t.chain.publicClient.request({ method: 'eth_blockNumber' }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ok(run: CliRun, what: string): CliRun {
  assert.equal(run.code, 0, `${what} exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
}

test('pause, resume, stop and restart through the indexer CLI', { timeout: 180_000 }, async () => {
  const address: Address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  // A long backfill: a few events every 700 empty blocks, indexed 20 blocks per range.
  for (let salt = 1n; salt <= 12n; salt++) {
    await t.chain.send(address, emitter.abi, 'emitMany', [5n + salt, salt]);
    await t.chain.mine(700);
  }
  const firstHead = await headNow();

  const name = uniqueName('control');
  const workflowId = `indexer:${name}:${t.chain.chainId}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-control-'));
  t.defer(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = path.join(dir, 'indexer.config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      name,
      chains: { local: { id: t.chain.chainId, rpc: t.chain.url, maxBlockRange: 20, maxInFlight: 2, pollIntervalMs: 200 } },
      contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
    }),
  );
  const env = { ...indexerEnv(t.stack, name), LOG_LEVEL: 'warn' };
  const cli = (...args: string[]) => runCli(args, env, { cwd: dir });
  const status = () => t.stack.client.workflow.getHandle(workflowId).query<IndexerStatus>('status');
  const ranges = async () => Number((await t.stack.db.query(`SELECT count(*) AS n FROM "${name}"._ranges`)).rows[0].n);
  const storedCheckpoint = async () =>
    Number((await t.stack.db.query(`SELECT block_number FROM "${name}"._checkpoints WHERE chain_id = $1`, [t.chain.chainId])).rows[0].block_number);
  const matchChain = (toBlock: bigint) =>
    assertMatchesChain(t.stack.db, t.chain.publicClient, { schema: name, abi: emitter.abi, address, chainId: t.chain.chainId, toBlock, tables: TABLES });

  const worker = await startInProcessWorker(t.stack, { taskQueue: name, rpc: { [t.chain.chainId]: [t.chain.url] } });
  t.defer(() => worker.stop());
  const started = Date.now();
  const start = ok(await cli('start', '--config', configPath), 'indexer start');
  assert.match(start.stdout, new RegExp(`started ${workflowId}`));

  // ── pause mid-way ──
  await eventually('the backfill to make progress', async () => ((await status()).checkpoint > 0 ? true : undefined), 30_000, 50);
  ok(await cli('pause', name), 'indexer pause');
  const paused = await status();
  assert.equal(paused.mode, 'paused');
  assert.equal(paused.paused, true);
  console.log(`paused after ${Date.now() - started} ms at ${paused.checkpoint} of ${firstHead}`);
  // In-flight ranges finish and the checkpoint is saved: no pending activity in Temporal, and the
  // workflow's checkpoint is the stored one, twice in a row. After that nothing may move.
  const settled = async () => {
    const described = await t.stack.client.workflow.getHandle(workflowId).describe();
    const s = await status();
    const quiet = (described.raw.pendingActivities ?? []).length === 0 && s.checkpoint === (await storedCheckpoint());
    return quiet ? { ranges: await ranges(), checkpoint: s.checkpoint } : undefined;
  };
  const frozen = await eventually(
    'in-flight ranges to finish',
    async () => {
      const first = await settled();
      await sleep(300);
      const second = await settled();
      return first && second && first.ranges === second.ranges && first.checkpoint === second.checkpoint ? second : undefined;
    },
    30_000,
    100,
  );
  assert.ok(frozen.checkpoint < Number(firstHead), `paused mid-way: checkpoint ${frozen.checkpoint} is below the head ${firstHead}`);
  // Where the paused workflow waits, as Temporal's stack trace query tells it (the Web UI's "Stack
  // Trace" tab): the prebuilt bundle's source map, kept without the sources' text, still maps it.
  const stack = await t.stack.client.workflow.getHandle(workflowId).query<string>('__stack_trace');
  assert.match(stack, /src\/workflows\/indexer\.ts:\d+:\d+/, stack);
  assert.equal(await storedCheckpoint(), frozen.checkpoint, 'the stored checkpoint is the workflow one');
  // The CLI's view while paused (this call also takes a good part of the observation window).
  const pausedJson = JSON.parse(ok(await cli('status', name, '--json'), 'indexer status --json (paused)').stdout) as IndexerStatus;
  assert.equal(pausedJson.mode, 'paused');
  assert.equal(pausedJson.paused, true);
  assert.equal(pausedJson.checkpoint, frozen.checkpoint);
  for (let i = 0; i < 10; i++) {
    await sleep(300);
    const s = await status();
    assert.equal(s.mode, 'paused');
    assert.equal(await ranges(), frozen.ranges, 'no range completes while paused');
    assert.equal(s.checkpoint, frozen.checkpoint, 'the checkpoint stays put while paused');
    assert.equal(await storedCheckpoint(), frozen.checkpoint);
  }

  // ── resume ──
  ok(await cli('resume', name), 'indexer resume');
  await eventually('the indexer to reach the head', async () => {
    const s = await status();
    return s.checkpoint >= Number(firstHead) ? s : undefined;
  }, 120_000);
  console.log(`caught up after ${Date.now() - started} ms`);
  assert.ok((await ranges()) > frozen.ranges);
  const backfilled = await matchChain(firstHead);
  assert.equal(backfilled.rows, [...Array(12).keys()].reduce((s, i) => s + 5 + i + 1, 0));

  // ── status, list, start again ──
  const statusRun = ok(await cli('status', name, '--json'), 'indexer status --json');
  const json = JSON.parse(statusRun.stdout) as Record<string, unknown>;
  for (const [field, valid] of Object.entries(STATUS_FIELDS)) {
    assert.ok(field in json, `status --json has ${field}`);
    assert.ok(valid(json[field]), `status --json ${field} = ${JSON.stringify(json[field])}`);
  }
  assert.equal(json.name, name);
  assert.equal(json.chainId, t.chain.chainId);
  assert.equal(json.workflowId, workflowId);
  assert.equal(json.mode, 'realtime');
  assert.equal(json.paused, false);
  assert.ok((json.checkpoint as number) >= Number(firstHead));
  assert.equal(json.lastError, null);
  assert.equal(json.logsIndexed, backfilled.rows);

  const list = await eventually('indexer list to show the workflow', async () => {
    const run = ok(await cli('list'), 'indexer list');
    return run.stdout.includes(workflowId) ? run : undefined;
  });
  assert.match(list.stdout, new RegExp(`${workflowId}\\s+realtime`));

  const again = ok(await cli('start', '--config', configPath), 'indexer start (already running)');
  assert.match(again.stdout, new RegExp(`${workflowId} is already running`));

  // ── stop ──
  const firstRunId = (await status()).runId;
  ok(await cli('stop', name), 'indexer stop');
  const result = await t.stack.client.workflow.getHandle(workflowId).result() as IndexerWorkflowResult;
  assert.equal(result.stopped, true);
  assert.ok(result.checkpoint >= Number(firstHead));
  assert.equal(await storedCheckpoint(), result.checkpoint, 'a stopped indexer leaves its checkpoint stored');
  const described = await t.stack.client.workflow.getHandle(workflowId).describe();
  assert.equal(described.status.name, 'COMPLETED');

  // Events while stopped. The first new blocks carry many logs, so the first range of the next
  // run takes a while (hundreds of ms) and its prepared status can be seen before it moves.
  for (let salt = 97n; salt <= 99n; salt++) await t.chain.send(address, emitter.abi, 'emitMany', [600n, salt]);
  for (let salt = 101n; salt <= 104n; salt++) {
    await t.chain.mine(300);
    await t.chain.send(address, emitter.abi, 'emitMany', [3n, salt]);
  }
  const secondHead = await headNow();

  const restartAt = (await t.stack.db.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
  const restart = ok(await cli('start', '--config', configPath), 'indexer start (after stop)');
  assert.match(restart.stdout, new RegExp(`started ${workflowId}`));
  const firstPrepared = await eventually(
    'the new run to be prepared',
    async () => {
      const s = await status();
      return s.runId !== firstRunId && s.head !== null ? s : undefined;
    },
    30_000,
    20,
  );
  assert.equal(firstPrepared.checkpoint, result.checkpoint, 'the new run starts at the stored checkpoint');
  const caughtUp = await eventually('the new run to reach the head', async () => {
    const s = await status();
    return s.checkpoint >= Number(secondHead) ? s : undefined;
  }, 120_000);
  assert.equal(caughtUp.runId, firstPrepared.runId);

  const { rows: redone } = await t.stack.db.query<{ from_block: string }>(
    `SELECT from_block FROM "${name}"._ranges WHERE completed_at > $1 ORDER BY from_block`,
    [restartAt],
  );
  assert.ok(redone.length > 0, 'the new run indexed ranges');
  assert.equal(Number(redone[0]!.from_block), result.checkpoint + 1, 'the new run starts right above the checkpoint');
  assert.ok(redone.every((r) => Number(r.from_block) > result.checkpoint), 'no range at or below the old checkpoint is done again');

  // The new run's history says the same: prepare found the checkpoint, the first range starts above it.
  const history = await t.stack.client.workflow.getHandle(workflowId, firstPrepared.runId).fetchHistory();
  const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : []));
  const firstRange = scheduled.find((a) => a.activityType?.name === 'indexRange');
  assert.ok(firstRange);
  const input = defaultPayloadConverter.fromPayload<{ fromBlock: number }>(firstRange.input!.payloads![0]!);
  assert.equal(input.fromBlock, result.checkpoint + 1);

  const all = await matchChain(secondHead);
  assert.equal(all.rows, backfilled.rows + 3 * 600 + 4 * 3);
  const final = await status();
  assert.equal(final.logsIndexed, all.rows);
  assert.equal(final.lastError, null);

  // ── stop while paused: the waiting run still completes ──
  ok(await cli('pause', name), 'indexer pause (realtime)');
  assert.equal((await status()).mode, 'paused');
  ok(await cli('stop', name), 'indexer stop (paused)');
  const stoppedPaused = (await t.stack.client.workflow.getHandle(workflowId).result()) as IndexerWorkflowResult;
  assert.equal(stoppedPaused.stopped, true);
  assert.equal(stoppedPaused.checkpoint, final.checkpoint);
  assert.equal(await storedCheckpoint(), final.checkpoint);
});
