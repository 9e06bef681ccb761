/**
 * Records the workflow histories that test/unit/replay.test.ts replays: one indexer going through
 * backfill (several ranges in flight), realtime, pause/resume, a reorg (rollback child), an
 * `indexer verify` (verify child), an `indexer reset` and a stop, and one whose backfill ranges
 * grow over light blocks, on a real Temporal dev server,
 * PostgreSQL and anvil. Run it again only when a workflow change is meant to be incompatible
 * (and then guard running workflows with `patched()`), never to make a failing replay pass:
 *
 *   node --import tsx test/replay/record.ts
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeFunctionData } from 'viem';
import { resetUpdate, verifyUpdate } from '../../src/workflows/messages';
import { startTestChain } from '../helpers/chain';
import { historyJson } from '../helpers/history';
import { specsFrom, startIndexer, status, waitForCheckpoint } from '../helpers/indexer';
import { compileFixture } from '../helpers/solidity';
import { startStack } from '../helpers/stack';
import { eventually, startInProcessWorker } from '../helpers/workers';

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');

const emitter = compileFixture('Emitter');
const stack = await startStack();
const chain = await startTestChain();
const cleanups: Array<() => Promise<unknown>> = [];
try {
  const address = await chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1n; salt <= 30n; salt++) await chain.send(address, emitter.abi, 'emitMany', [1n + (salt % 3n), salt]);
  const name = 'replay_fixture';
  await stack.db.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  const [spec] = specsFrom({
    name,
    chains: { local: { id: chain.chainId, pollIntervalMs: 200, maxBlockRange: 4, maxInFlight: 3, maxReorgDepth: 16 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
    verify: { interval: '2s', maxChunksPerRun: 3 },
  });
  const worker = await startInProcessWorker(stack, { taskQueue: name, rpc: { [chain.chainId]: [chain.url] } });
  cleanups.push(() => worker.stop());
  const handle = await startIndexer(stack.client, spec!, name);

  await waitForCheckpoint(stack.client, spec!, await chain.publicClient.getBlockNumber());
  await handle.signal('pause');
  await eventually('paused', async () => ((await status(stack.client, spec!)).mode === 'paused' ? true : undefined));
  await handle.signal('resume');
  for (let salt = 31n; salt <= 34n; salt++) await chain.send(address, emitter.abi, 'emitMany', [2n, salt]);
  await waitForCheckpoint(stack.client, spec!, await chain.publicClient.getBlockNumber());

  const tx = { from: chain.accounts[0]!, to: address, data: encodeFunctionData({ abi: emitter.abi, functionName: 'emitMany', args: [3n, 99n] }) };
  await chain.publicClient.request({ method: 'anvil_reorg' as never, params: [3, [[tx, 1]]] as never });
  await eventually('the reorg', async () => ((await status(stack.client, spec!)).reorgs >= 1 ? true : undefined));
  await waitForCheckpoint(stack.client, spec!, await chain.publicClient.getBlockNumber());

  await handle.executeUpdate(verifyUpdate, { args: [{}] });
  const head = Number(await chain.publicClient.getBlockNumber());
  await handle.executeUpdate(resetUpdate, { args: [{ toBlock: head - 5 }] });
  await waitForCheckpoint(stack.client, spec!, head);
  await eventually('a scheduled verification', async () => ((await status(stack.client, spec!)).lastVerification ? true : undefined));
  await handle.signal('stop');
  await handle.result();

  // A run that starts from carried state, as one made by continueAsNew does.
  const last = await status(stack.client, spec!).catch(() => undefined);
  const carried = await stack.client.workflow.start('indexerWorkflow', {
    taskQueue: name,
    workflowId: handle.workflowId,
    args: [{ spec, state: { checkpoint: head, logsIndexed: last?.logsIndexed ?? 0, paused: false, lastError: null, rangeSize: 4, reorgs: 1, lastReorg: null, lastVerification: null, verifyRuns: 5, verifyCursor: null, nextVerifyAt: null } }],
  });
  await chain.send(address, emitter.abi, 'emitMany', [2n, 100n]);
  await waitForCheckpoint(stack.client, spec!, await chain.publicClient.getBlockNumber());
  await carried.signal('stop');
  await carried.result();

  let written = 0;
  for await (const wf of stack.client.workflow.list()) {
    const json = historyJson(stack.temporal.address, wf.workflowId, wf.runId);
    const file = `${wf.type}-${String(written).padStart(2, '0')}.json`;
    writeFileSync(path.join(OUT, file), json);
    console.log(`${file}: ${wf.workflowId} (${(JSON.parse(json.toString()) as { events: unknown[] }).events.length} events)`);
    written += 1;
  }

  // Light blocks and the default maxBlockRange: each range grows the next. Written apart from the
  // numbered files above, so recording it did not renumber them.
  const growthName = 'replay_growth';
  await stack.db.query(`DROP SCHEMA IF EXISTS ${growthName} CASCADE`);
  await chain.mine(300);
  const [growthSpec] = specsFrom({
    name: growthName,
    chains: { local: { id: chain.chainId, pollIntervalMs: 200, maxInFlight: 2 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
  });
  const growthWorker = await startInProcessWorker(stack, { taskQueue: growthName, rpc: { [chain.chainId]: [chain.url] } });
  cleanups.push(() => growthWorker.stop());
  const growth = await startIndexer(stack.client, growthSpec!, growthName);
  await waitForCheckpoint(stack.client, growthSpec!, await chain.publicClient.getBlockNumber());
  await growth.signal('stop');
  await growth.result();
  const growthJson = historyJson(stack.temporal.address, growth.workflowId, (await growth.describe()).runId);
  writeFileSync(path.join(OUT, 'indexerWorkflow-growth-08.json'), growthJson);
  console.log(`indexerWorkflow-growth-08.json: ${growth.workflowId}`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await chain.stop();
  await stack.stop();
}
