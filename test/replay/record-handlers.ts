/**
 * Records one more history for test/unit/replay.test.ts, beside record.ts's (which it leaves as
 * they are: they stand for the versions that wrote them): an indexer with a handlers stage through
 * a backfill of many small ranges (the handlers catch up with the stored checkpoint and wait for
 * it, so the workflow saves it sooner, behind a `patched()` marker), then realtime, then a stop.
 * Run it only to add the history of a version whose workflow changed:
 *
 *   node --import tsx test/replay/record-handlers.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { README_BALANCES_HANDLERS, writeModule } from '../helpers/balances';
import { startTestChain } from '../helpers/chain';
import { historyJson } from '../helpers/history';
import { specsFrom, startIndexer, status, waitForCheckpoint } from '../helpers/indexer';
import { compileFixture } from '../helpers/solidity';
import { startStack } from '../helpers/stack';
import { eventually, startInProcessWorker } from '../helpers/workers';

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
const FILE = 'indexerWorkflow-handlers-07.json';

const emitter = compileFixture('Emitter');
const stack = await startStack();
const chain = await startTestChain();
const cleanups: Array<() => Promise<unknown>> = [];
try {
  const address = await chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1n; salt <= 40n; salt++) await chain.send(address, emitter.abi, 'emitMany', [20n, salt]);
  const name = 'replay_handlers_fixture';
  await stack.db.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  const handlers = writeModule(mkdtempSync(path.join(os.tmpdir(), 'replay-handlers-')), 'handlers.mjs', README_BALANCES_HANDLERS);
  const [spec] = specsFrom({
    name,
    chains: { local: { id: chain.chainId, pollIntervalMs: 200, maxBlockRange: 2, maxInFlight: 2, maxReorgDepth: 16 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
    handlers,
  });
  const worker = await startInProcessWorker(stack, { taskQueue: name, rpc: { [chain.chainId]: [chain.url] } });
  cleanups.push(() => worker.stop());
  const handle = await startIndexer(stack.client, spec!, name);
  const head = Number(await chain.publicClient.getBlockNumber());
  await waitForCheckpoint(stack.client, spec!, head);
  await eventually('the handlers caught up', async () => ((await status(stack.client, spec!)).handlers?.checkpoint === head ? true : undefined));
  for (let salt = 41n; salt <= 43n; salt++) await chain.send(address, emitter.abi, 'emitMany', [2n, salt]);
  const tip = Number(await chain.publicClient.getBlockNumber());
  await waitForCheckpoint(stack.client, spec!, tip);
  await eventually('the handlers followed the tip', async () => ((await status(stack.client, spec!)).handlers?.checkpoint === tip ? true : undefined));
  await handle.signal('stop');
  await handle.result();

  const json = historyJson(stack.temporal.address, handle.workflowId);
  const events = (JSON.parse(json.toString()) as { events: Array<Record<string, unknown>> }).events;
  const markers = events.filter((e) => e.markerRecordedEventAttributes).length;
  writeFileSync(path.join(OUT, FILE), json);
  console.log(`${FILE}: ${handle.workflowId} (${events.length} events, ${markers} marker(s))`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await chain.stop();
  await stack.stop();
}
