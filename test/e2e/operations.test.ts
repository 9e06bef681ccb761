import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { Address } from 'viem';
import { startTemporalDevServer, type DevServer } from '../../src/dev/temporal-server';
import { indexerWorkflowId } from '../../src/spec';
import { FAST_MINING_ANVIL_ARGS, startTestChain, type TestChain } from '../helpers/chain';
import { historyText } from '../helpers/history';
import { exposedMetricNames, metricsReadByAlertsAndDashboard } from '../helpers/metric-names';
import { specsFrom, startIndexer, status, waitForCheckpoint } from '../helpers/indexer';
import { freePort } from '../helpers/ports';
import { compileFixture } from '../helpers/solidity';
import { startStack, uniqueName, type TestStack } from '../helpers/stack';
import { INDEXER_BIN, eventually, runCli, spawnWorkerProcess, type WorkerProcess } from '../helpers/workers';

const emitter = compileFixture('Emitter');

let stack: TestStack; // PostgreSQL (its Temporal server is not used here)
let chain: TestChain;
let address: Address;
let temporal: DevServer | undefined;
let client: Client | undefined;
let worker: WorkerProcess | undefined;
let temporalPort: number;
let metricsUrl: string;
const name = uniqueName('operations');

before(async () => {
  [stack, chain] = await Promise.all([startStack(), startTestChain({ anvilArgs: FAST_MINING_ANVIL_ARGS })]);
  address = await chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1n; salt <= 12n; salt++) {
    await chain.send(address, emitter.abi, 'emitMany', [40n, salt]);
    await chain.mine(400);
  }
  temporalPort = await freePort();
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}`;
  worker = spawnWorkerProcess({
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    TEMPORAL_TASK_QUEUE: name,
    DATABASE_URL: stack.databaseUrl,
    METRICS_PORT: String(metricsPort),
    [`RPC_URL_${chain.chainId}`]: chain.url,
  });
});

after(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
  await client?.connection.close();
  await temporal?.stop();
  await chain?.stop();
  await stack?.stop();
});

const get = async (path: string) => {
  const res = await fetch(`${metricsUrl}${path}`);
  return { status: res.status, text: await res.text() };
};

function metric(text: string, line: RegExp): number | undefined {
  const m = line.exec(text);
  return m ? Number(m[1]) : undefined;
}

test('/health/ready is 503 while Temporal is unreachable and 200 once it is up; /health/live is always 200', { timeout: 120_000 }, async () => {
  await eventually('the ops server', async () => ((await get('/health/live').catch(() => undefined))?.status === 200 ? true : undefined), 60_000);
  const early = await get('/health/ready');
  assert.equal(early.status, 503);
  assert.match(early.text, /not connected to Temporal/);

  temporal = await startTemporalDevServer({ port: temporalPort });
  client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  await eventually('ready', async () => ((await get('/health/ready')).status === 200 ? true : undefined), 60_000, 500);
  assert.match(worker!.output(), /cannot reach Temporal .* retrying/);
});

test('/metrics during a backfill: counters move, and logs indexed match PostgreSQL at the end', { timeout: 180_000 }, async (t) => {
  assert.ok(client, 'Temporal is up (previous test)');
  const [spec] = specsFrom({
    name,
    chains: { local: { id: chain.chainId, maxBlockRange: 25, maxInFlight: 1, pollIntervalMs: 200 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
  });
  await startIndexer(client!, spec!, name);
  const counter = new RegExp(`indexer_logs_indexed_total\\{indexer="${name}",chain_id="${chain.chainId}"\\} (\\d+)`);

  // status --watch in a pseudo-terminal (script(1) gives it one): it redraws a progress bar in place.
  const env = { ...process.env, TEMPORAL_ADDRESS: temporal!.address, TEMPORAL_TASK_QUEUE: name };
  // A sized terminal, as a terminal emulator gives (script's own pty reports 0×0).
  const tty = spawn('script', ['-qfec', `stty rows 40 cols 120; ${process.execPath} ${INDEXER_BIN} status ${name} --watch`, '/dev/null'], { env });
  t.after(() => tty.kill('SIGKILL'));
  let ttyOut = '';
  tty.stdout.on('data', (c) => (ttyOut += c));

  const seen: number[] = [];
  const head = await chain.publicClient.getBlockNumber();
  for (;;) {
    const value = metric((await get('/metrics')).text, counter);
    if (value !== undefined) seen.push(value);
    const s = await status(client!, spec!).catch(() => undefined);
    if (s && s.checkpoint >= Number(head)) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.ok(seen.length >= 3, `scraped during the backfill (${seen.length} scrapes)`);
  assert.ok(seen.some((v, i) => i > 0 && v > seen[i - 1]!), `the counter moved: ${seen.join(' ')}`);
  assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]!), 'and never went down');

  await waitForCheckpoint(client!, spec!, head);
  const { rows } = await stack.db.query(`SELECT count(*)::int AS n FROM "${name}".emitter_transfer`);
  const text = (await get('/metrics')).text;
  assert.equal(metric(text, counter), rows[0].n, 'logs indexed = rows in PostgreSQL');
  assert.equal(rows[0].n, 12 * 40);
  assert.match(text, new RegExp(`indexer_rpc_requests\\{chain_id="${chain.chainId}",endpoint="http://127.0.0.1:${chain.anvil.port}"\\} [1-9]`));
  assert.match(text, new RegExp(`indexer_rpc_breaker_state\\{chain_id="${chain.chainId}",endpoint="[^"]+"\\} 0`));
  assert.match(text, /indexer_range_duration_seconds_bucket/);
  assert.match(text, /indexer_checkpoint_block\{indexer="[^"]+",chain_id="\d+"\} \d+/);
  assert.match(text, /# Temporal SDK worker metrics[\s\S]*temporal_/);

  // The watch showed the bar, then realtime.
  await eventually('realtime in the watch view', async () => (/realtime/.test(ttyOut) ? true : undefined), 30_000);
  tty.kill('SIGKILL');
  assert.match(ttyOut, /\[#*\.*\] \d+\.\d%/, 'a progress bar with a percentage');
  assert.match(ttyOut, /\x1b\[\d+A/, 'redrawn in place (cursor moved up)');

  // Without a terminal the same command prints lines.
  const plain = spawn(process.execPath, [INDEXER_BIN, 'status', name, '--watch'], { env });
  t.after(() => plain.kill('SIGKILL'));
  let plainOut = '';
  plain.stdout.on('data', (c) => (plainOut += c));
  await eventually('a status line', async () => (/mode=realtime checkpoint=\d+/.test(plainOut) ? true : undefined), 30_000);
  plain.kill('SIGKILL');
  assert.doesNotMatch(plainOut, /\x1b\[/, 'no terminal escapes when output is not a terminal');
});

test('indexer list finds indexers by their search attributes; activities and children carry summaries', { timeout: 60_000 }, async () => {
  assert.ok(client);
  const list = await runCli(['list', '--json'], { TEMPORAL_ADDRESS: temporal!.address });
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as Array<{ workflowId: string; mode: string }>;
  assert.ok(rows.some((r) => r.workflowId === indexerWorkflowId(name, chain.chainId) && r.mode === 'realtime'), list.stdout);

  // Visibility is eventually consistent: the mode upsert shows up shortly after it happens.
  const found = await eventually('the indexer by its search attributes', async () => {
    const ids: string[] = [];
    for await (const wf of client!.workflow.list({ query: `IndexerName = '${name}' AND IndexerChainId = ${chain.chainId} AND IndexerMode = 'realtime'` })) ids.push(wf.workflowId);
    return ids.length > 0 ? ids : undefined;
  }, 20_000, 250);
  assert.deepEqual(found, [indexerWorkflowId(name, chain.chainId)]);

  const history = historyText(await client!.workflow.getHandle(indexerWorkflowId(name, chain.chainId)).fetchHistory());
  assert.match(history, /"summary":\{"metadata":\{[^}]*\},"data":"\\"blocks \d+-\d+\\""/);
});

test('/metrics carries the workflows\' own view: paused, lastError, mode, lag, readiness', { timeout: 60_000 }, async () => {
  assert.ok(client);
  const labels = `indexer="${name}",chain_id="${chain.chainId}"`;
  const gauge = (text: string, metricName: string, extra = '') => metric(text, new RegExp(`^${metricName}\\{${labels}${extra}\\} (\\S+)$`, 'm'));
  // The mode is not realtime at every instant (a burst of blocks sends the indexer back to catching
  // up for a moment), and a scrape can land there. Scrape until it follows the tip.
  const before = await eventually('indexer_mode realtime 1', async () => {
    const text = (await get('/metrics')).text;
    return gauge(text, 'indexer_mode', ',mode="realtime"') === 1 ? text : undefined;
  }, 30_000, 500);
  assert.equal(gauge(before, 'indexer_paused'), 0, before.split('\n').filter((l) => l.startsWith('indexer_paused')).join('\n'));
  assert.equal(gauge(before, 'indexer_last_error'), 0);
  assert.equal(gauge(before, 'indexer_mode', ',mode="realtime"'), 1);
  assert.ok((gauge(before, 'indexer_status_checkpoint_block') ?? 0) > 0);
  assert.equal(gauge(before, 'indexer_verification_unrepaired'), 0);
  assert.match(before, /^indexer_worker_ready 1$/m);
  // Every metric the alert rules and the Grafana dashboard read is exported (the SDK's included).
  const exposed = exposedMetricNames(before);
  assert.deepEqual(metricsReadByAlertsAndDashboard().filter((m) => !exposed.has(m)), [], 'read by alerts or the dashboard but not exported');

  const handle = client!.workflow.getHandle(indexerWorkflowId(name, chain.chainId));
  await handle.signal('pause');
  const paused = await eventually('indexer_paused 1', async () => {
    const text = (await get('/metrics')).text;
    return gauge(text, 'indexer_paused') === 1 ? text : undefined;
  }, 30_000, 500);
  assert.equal(gauge(paused, 'indexer_mode', ',mode="paused"'), 1);
  assert.equal(gauge(paused, 'indexer_mode', ',mode="realtime"'), undefined, 'one mode at a time');
  await handle.signal('resume');
  await eventually('indexer_paused 0', async () => (gauge((await get('/metrics')).text, 'indexer_paused') === 0 ? true : undefined), 30_000, 500);
});
