import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Address } from 'viem';
import { indexerWorkflowId } from '../../src/spec';
import type { IndexerStatus } from '../../src/workflows/messages';
import { createAbandonedIndexers } from '../helpers/abandoned';
import { startTestChain, type TestChain } from '../helpers/chain';
import { specsFrom, startIndexer, waitForCheckpoint } from '../helpers/indexer';
import { compileFixture } from '../helpers/solidity';
import { startStack, uniqueName, type TestStack } from '../helpers/stack';
import { runCli, startInProcessWorker, type RunningWorker } from '../helpers/workers';

/**
 * `indexer list` and `indexer status` in a namespace that holds hundreds of closed indexers whose
 * workers are long gone, and a few running ones that no worker serves: a status query to either
 * would wait ~30 s for the server to give up. The CLI answers from visibility and queries only
 * running workflows, in parallel, with a short timeout.
 */

const CLOSED = 300;
const ORPHANED = 3; // running, but no worker polls their task queue
const emitter = compileFixture('Emitter');

let stack: TestStack;
let chain: TestChain;
let worker: RunningWorker | undefined;
const started: string[] = [];
const prefix = uniqueName('list');

before(async () => {
  [stack, chain] = await Promise.all([startStack(), startTestChain()]);
});

after(async () => {
  for (const id of started) await stack?.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  await worker?.stop();
  await chain?.stop();
  await stack?.stop();
});

function specFor(name: string, address: Address = '0x5fbdb2315678afecb367f032d93f642f64180aa3') {
  return specsFrom({
    name,
    chains: { local: { id: chain.chainId, pollIntervalMs: 200 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
  })[0]!;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

test(`indexer list and status answer fast beside ${CLOSED} closed indexers and ${ORPHANED} that no worker serves`, { timeout: 600_000 }, async () => {
  const { closed: closedNames, orphaned: orphanNames } = await createAbandonedIndexers({
    client: stack.client,
    temporalAddress: stack.temporal.address,
    bundle: stack.bundle,
    prefix,
    closed: CLOSED,
    orphaned: ORPHANED,
    spec: (name) => specFor(name),
  });
  started.push(...orphanNames.map((name) => indexerWorkflowId(name, chain.chainId)));

  // One live indexer with a worker, so the list shows live status where there is one.
  const address = await chain.deploy(emitter.abi, emitter.bytecode);
  await chain.send(address, emitter.abi, 'emitMany', [5n, 1n]);
  const liveName = `${prefix}_live`;
  const liveQueue = `${prefix}_q`;
  worker = await startInProcessWorker(stack, { taskQueue: liveQueue, rpc: { [chain.chainId]: [chain.url] } });
  const liveSpec = specFor(liveName, address);
  await startIndexer(stack.client, liveSpec, liveQueue);
  started.push(indexerWorkflowId(liveName, chain.chainId));
  await waitForCheckpoint(stack.client, liveSpec, await chain.publicClient.getBlockNumber());

  const env = { TEMPORAL_ADDRESS: stack.temporal.address };
  // Visibility is eventually consistent: wait until it has every terminated run.
  const expected = CLOSED + ORPHANED + 1;
  let rows: Array<{ workflowId: string; mode: string; running: boolean; checkpoint: string; note: string; executionStatus: string; lastMode: string | null }> = [];
  let listMs = 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    const [run, ms] = await timed(() => runCli(['list', '--json'], env, { timeoutMs: 120_000 }));
    assert.equal(run.code, 0, run.stderr);
    rows = (JSON.parse(run.stdout) as typeof rows).filter((r) => r.workflowId.startsWith(`indexer:${prefix}_`));
    listMs = ms;
    if (rows.length === expected && rows.filter((r) => r.executionStatus === 'TERMINATED').length === CLOSED) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  assert.equal(rows.length, expected, 'every indexer is listed once');
  const closed = rows.filter((r) => !r.running);
  assert.equal(closed.length, CLOSED);
  assert.ok(closed.every((r) => r.mode === 'terminated' && r.lastMode === 'backfill' && r.checkpoint === ''), 'closed ones from visibility: how they ended and the last mode they published');
  const orphans = rows.filter((r) => orphanNames.some((n) => r.workflowId === indexerWorkflowId(n, chain.chainId)));
  assert.equal(orphans.length, ORPHANED);
  assert.ok(orphans.every((r) => r.running && /no worker answered/.test(r.note)), `running without a worker: shown, with a note (${JSON.stringify(orphans[0])})`);
  const live = rows.find((r) => r.workflowId === indexerWorkflowId(liveName, chain.chainId));
  assert.ok(live && live.mode === 'realtime' && Number(live.checkpoint) > 0, `the live one has its live status: ${JSON.stringify(live)}`);
  // A generous bound (speed targets live in bench/): the old list queried each closed run in turn (~30 s each).
  assert.ok(listMs < 10_000, `indexer list took ${listMs.toFixed(0)} ms`);

  const [status, statusMs] = await timed(() => runCli(['status', liveName, '--json'], env));
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as IndexerStatus).mode, 'realtime');
  assert.ok(statusMs < 10_000, `indexer status <name> took ${statusMs.toFixed(0)} ms`);

  // Without a name: the running ones; those no worker answers are named on stderr, the rest shown.
  const [all, allMs] = await timed(() => runCli(['status', '--json'], env));
  assert.equal(all.code, 0, all.stderr);
  const statuses = JSON.parse(all.stdout) as IndexerStatus[];
  assert.ok(statuses.some((s) => s.name === liveName));
  for (const name of orphanNames) assert.match(all.stderr, new RegExp(`warning: (no worker answered the status query to indexer:${name}:${chain.chainId} within 5 s|status query to indexer:${name}:${chain.chainId} failed: .*worker may be down)`));
  assert.ok(allMs < 15_000, `indexer status (all) took ${allMs.toFixed(0)} ms`);

  // A closed indexer by name, with no worker left to replay it: a one-line error, not a 30 s wait.
  const [gone, goneMs] = await timed(() => runCli(['status', closedNames[0]!], env));
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /^error: (no worker answered the status query to indexer:\S+ within 5 s|status query to indexer:\S+ failed: .*worker may be down)/);
  assert.ok(goneMs < 15_000, `indexer status <closed> took ${goneMs.toFixed(0)} ms`);

  console.log(
    `indexer list (${expected} indexers, ${CLOSED} closed, ${ORPHANED} without a worker): ${listMs.toFixed(0)} ms; ` +
      `indexer status <live>: ${statusMs.toFixed(0)} ms; indexer status (all running): ${allMs.toFixed(0)} ms; indexer status <closed>: ${goneMs.toFixed(0)} ms`,
  );
});
