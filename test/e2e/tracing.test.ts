import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, Connection } from '@temporalio/client';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { Address } from 'viem';
import { indexerWorkflowId } from '../../src/spec';
import { startTracing, type Tracing } from '../../src/tracing';
import { WORKFLOWS_PATH, tracingOptions } from '../../src/worker';
import { quietBundlerLogger } from '../../src/worker/workflow-bundle';
import { startTestChain, type TestChain } from '../helpers/chain';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { specsFrom, startIndexer } from '../helpers/indexer';
import { assertMatchesChain, EMITTER_TABLES } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { startStack, uniqueName, type TestStack } from '../helpers/stack';
import { eventually, startInProcessWorker, type RunningWorker } from '../helpers/workers';

/**
 * One trace from the start of an indexer through the workflow to its activities, with RPC and
 * PostgreSQL spans inside indexRange, recorded by the OpenTelemetry SDK's in-memory exporter
 * through the same interceptors, sink and span wrappers the worker uses in production. The RPC
 * URL carries an API key and the database URL a password; neither may appear in any span.
 */

const API_KEY = 'TRACEKEY-7f3a9c';
const emitter = compileFixture('Emitter');

let stack: TestStack;
let chain: TestChain;
let proxy: FaultProxy;
let tracing: Tracing;
let client: Client;
let worker: RunningWorker | undefined;
const exporter = new InMemorySpanExporter();

before(async () => {
  [stack, chain] = await Promise.all([startStack(), startTestChain()]);
  proxy = await startFaultProxy(chain.url);
  tracing = (await startTracing({ serviceName: 'indexer-test', exporter }))!;
  // The client `indexer start` builds when tracing is on.
  client = new Client({ connection: await Connection.connect({ address: stack.temporal.address }), interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } });
});

after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await tracing?.shutdown();
  await proxy?.stop();
  await chain?.stop();
  await stack?.stop();
});

/** The database URL with a password: the server's own, or one added (trust auth ignores it). */
function databaseUrlWithPassword(): { url: string; password: string } {
  const url = new URL(stack.databaseUrl);
  if (!url.password) url.password = 'pw-TRACE-s3cret';
  return { url: url.toString(), password: decodeURIComponent(url.password) };
}

const hrMs = (t: [number, number]) => t[0] * 1e3 + t[1] / 1e6;
const durationMs = (s: ReadableSpan) => hrMs(s.endTime) - hrMs(s.startTime);
const parentOf = (s: ReadableSpan) => s.parentSpanId;

/**
 * The span tree under `root`, for the test's output: names, durations and the attributes that say
 * what a span did; runs of three or more siblings with the same name are folded into one line.
 */
function render(spans: ReadableSpan[], root: ReadableSpan, depth = 0, lines: string[] = [], maxDepth = Infinity): string[] {
  const attrs = Object.entries(root.attributes)
    .filter(([k]) => /^(indexer\.|db\.sql\.table)/.test(k))
    .map(([k, v]) => `${k.replace(/^indexer\./, '')}=${String(v)}`)
    .join(' ');
  lines.push(`${'  '.repeat(depth)}${root.name}  ${durationMs(root).toFixed(1)} ms${attrs ? `  [${attrs}]` : ''}`);
  if (depth >= maxDepth) return lines;
  const children = spans.filter((s) => parentOf(s) === root.spanContext().spanId).sort((a, b) => hrMs(a.startTime) - hrMs(b.startTime));
  for (let i = 0; i < children.length; ) {
    let j = i;
    while (j < children.length && children[j]!.name === children[i]!.name) j++;
    if (j - i >= 3) {
      const ms = children.slice(i, j).map(durationMs);
      lines.push(`${'  '.repeat(depth + 1)}${children[i]!.name} ×${j - i}  ${Math.min(...ms).toFixed(1)}–${Math.max(...ms).toFixed(1)} ms each`);
    } else for (const child of children.slice(i, j)) render(spans, child, depth + 1, lines, maxDepth);
    i = j;
  }
  return lines;
}

test('a range has one trace: start → workflow → activity → RPC and PostgreSQL spans, with no secret in any span', { timeout: 240_000 }, async () => {
  const address: Address = await chain.deploy(emitter.abi, emitter.bytecode);
  // Enough blocks for a backfill of several ranges (a chain this short would be synced at the tip).
  for (let salt = 1n; salt <= 3n; salt++) {
    await chain.send(address, emitter.abi, 'emitMany', [5n, salt]);
    await chain.mine(150);
  }
  const head = Number(await chain.publicClient.getBlockNumber());

  const name = uniqueName('tracing');
  const rpcUrl = proxy.url(`/v2/${API_KEY}`);
  const database = databaseUrlWithPassword();
  worker = await startInProcessWorker(stack, { taskQueue: name, rpc: { [chain.chainId]: [rpcUrl] }, databaseUrl: database.url, tracing });
  const [spec] = specsFrom({
    name,
    chains: { local: { id: chain.chainId, maxBlockRange: 100, maxInFlight: 2, pollIntervalMs: 200 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi, startBlock: 0, endBlock: head }],
  });
  const handle = await startIndexer(client, spec!, name);
  const result = (await handle.result()) as { checkpoint: number };
  assert.equal(result.checkpoint, head, 'the indexer ran to its endBlock');
  assert.equal((await assertMatchesChain(stack.db, chain.publicClient, { schema: name, abi: emitter.abi, address, chainId: chain.chainId, toBlock: BigInt(head), tables: EMITTER_TABLES })).rows, 15);

  // Workflow spans leave the sandbox through the sink after the activation that ended them.
  const workflowId = indexerWorkflowId(name, chain.chainId);
  const spans = await eventually(
    'the workflow span to be exported',
    async () => {
      const all = exporter.getFinishedSpans();
      return all.some((s) => s.name === 'RunWorkflow:indexerWorkflow') ? all : undefined;
    },
    30_000,
  );
  const start = spans.find((s) => s.name === 'StartWorkflow:indexerWorkflow');
  assert.ok(start, `a span for the start (${[...new Set(spans.map((s) => s.name))].join(', ')})`);
  assert.equal(start.attributes.temporalWorkflowId, workflowId);
  const trace = spans.filter((s) => s.spanContext().traceId === start.spanContext().traceId);
  const byId = new Map(trace.map((s) => [s.spanContext().spanId, s]));
  const childOf = (s: ReadableSpan, parent: ReadableSpan) => parentOf(s) === parent.spanContext().spanId;

  const run = trace.find((s) => s.name === 'RunWorkflow:indexerWorkflow');
  assert.ok(run && childOf(run, start), 'the workflow run is a child of the start');
  const ranges = trace.filter((s) => s.name === 'RunActivity:indexRange');
  assert.ok(ranges.length >= 1, `indexRange ran inside the trace (${[...new Set(trace.map((s) => s.name))].join(', ')})`);
  for (const range of ranges) {
    const scheduled = byId.get(parentOf(range)!);
    assert.equal(scheduled?.name, 'StartActivity:indexRange', 'each activity run is a child of its scheduling in the workflow');
    assert.ok(childOf(scheduled!, run), 'scheduled by the workflow run');
  }
  // The range that wrote events (others may hold none): its rows went in inside its spans.
  const writesEvents = (r: ReadableSpan) => trace.some((s) => childOf(s, r) && s.name === 'pg INSERT' && s.attributes['db.sql.table'] === `"${name}"."emitter_transfer"`);
  const range = ranges.find(writesEvents);
  assert.ok(range, 'a range inserted its rows into the event table inside its span');
  const inside = trace.filter((s) => childOf(s, range));
  const getLogs = inside.filter((s) => s.name === 'rpc eth_getLogs');
  assert.ok(getLogs.length >= 1, `eth_getLogs inside indexRange (${inside.map((s) => s.name).join(', ')})`);
  assert.equal(getLogs[0]!.attributes['indexer.rpc.endpoint'], `http://127.0.0.1:${proxy.port}/…`, 'the endpoint by its redacted label');
  assert.equal(typeof getLogs[0]!.attributes['indexer.block.from'], 'number');
  assert.equal(typeof getLogs[0]!.attributes['indexer.block.to'], 'number');
  const pg = inside.filter((s) => s.name.startsWith('pg '));
  for (const op of ['pg BEGIN', 'pg DELETE', 'pg INSERT', 'pg COMMIT']) assert.ok(pg.some((s) => s.name === op), `${op} inside indexRange (${pg.map((s) => s.name).join(', ')})`);
  for (const s of [...getLogs, ...pg]) assert.ok(durationMs(s) >= 0 && durationMs(s) <= durationMs(range), `${s.name} lies within the activity`);
  // Other activities (getHead, prepareIndexer, saveCheckpoint) are in the same trace.
  for (const activity of ['RunActivity:prepareIndexer', 'RunActivity:getHead']) assert.ok(trace.some((s) => s.name === activity), `${activity} in the trace`);

  // No secret anywhere in any span: names, attributes, status, events, resource.
  const secrets = [API_KEY, rpcUrl, database.password, database.url, encodeURIComponent(database.password)];
  for (const s of spans) {
    const text = JSON.stringify({ name: s.name, attributes: s.attributes, status: s.status, events: s.events, resource: s.resource.attributes, links: s.links });
    for (const secret of secrets) assert.ok(!text.includes(secret), `span ${s.name} carries a secret (${secret}): ${text.slice(0, 400)}`);
  }

  console.log(`the indexer's trace (${trace.length} spans), first levels:\n${render(trace, start, 0, [], 2).join('\n')}`);
  console.log(`one range in it:\n${render(trace, byId.get(parentOf(range)!)!).join('\n')}`);
});

test('a history recorded before the tracing interceptors existed replays with the bundle that has them', { timeout: 240_000 }, async () => {
  // Workers upgraded to this version replay histories that older workers (no interceptors in
  // their bundle, no trace headers) recorded: the interceptors must not change a single command.
  const oldBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  const address: Address = await chain.deploy(emitter.abi, emitter.bytecode);
  await chain.send(address, emitter.abi, 'emitMany', [5n, 9n]);
  await chain.mine(60);
  const head = Number(await chain.publicClient.getBlockNumber());
  const name = uniqueName('replay old');
  const old = await startInProcessWorker({ ...stack, bundle: oldBundle }, { taskQueue: name, rpc: { [chain.chainId]: [chain.url] } });
  try {
    const [spec] = specsFrom({
      name,
      chains: { local: { id: chain.chainId, maxBlockRange: 20, maxInFlight: 2, pollIntervalMs: 200 } },
      contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi, startBlock: 0, endBlock: head }],
    });
    await (await startIndexer(stack.client, spec!, name)).result();
  } finally {
    await old.stop();
  }
  const history = await stack.client.workflow.getHandle(indexerWorkflowId(name, chain.chainId)).fetchHistory();
  assert.ok((history.events?.length ?? 0) > 20, 'a history with activities to replay');
  await Worker.runReplayHistory({ workflowBundle: stack.bundle, replayName: name, ...(await tracingOptions(undefined)) }, history);
});
