/**
 * `npm run bench [-- --logs N --logs-per-block K --realtime-seconds S]`
 *
 * 1. A reproducible dataset: an Emitter contract emitting ERC-20 Transfer events, K per block, N in
 *    all, on anvil; the chain is dumped to bench/.cache and reloaded, so every run indexes the same.
 * 2. raw: the physical-limit baseline, parallel eth_getLogs + viem decode + PostgreSQL COPY.
 * 3. indexer: the real thing (Temporal dev server, an `indexer worker` process, the workflow)
 *    backfilling the same range into a fresh schema; its peak RSS, activities and history events.
 * 4. realtime: a block with events every second; time from the block being mined to its rows
 *    being committed, p50 and p95.
 * Results go to bench/results/<time>.json and bench/results/latest.md.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createPublicClient, createWalletClient, decodeEventLog, http, type Abi, type Address, type Hex } from 'viem';
import { startIndexers } from '../src/cli/start-command';
import { buildSpecs } from '../src/config/resolve';
import { parseConfig } from '../src/config/load';
import { startAnvil, type Anvil } from '../src/dev/anvil';
import { resolveDatabase } from '../src/dev/database';
import { databaseUrl } from '../src/env';
import { startTemporalDevServer } from '../src/dev/temporal-server';
import { indexerWorkflowId } from '../src/spec';
import type { IndexerStatus } from '../src/workflows/messages';
import { compileFixture } from '../test/helpers/solidity';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, 'bench', '.cache');
const RESULTS = path.join(ROOT, 'bench', 'results');
const ANVIL_ARGS = ['--hardfork', 'cancun', '--gas-limit', '300000000', '--prune-history'];

const { values: flags } = parseArgs({
  options: {
    logs: { type: 'string', default: '1000000' },
    'logs-per-block': { type: 'string', default: '500' },
    'realtime-seconds': { type: 'string', default: '60' },
    'in-flight': { type: 'string', default: '4' },
    // The heap caps the Dockerfile sets for production workers (README, "Running in production").
    'worker-node-options': { type: 'string', default: '--max-old-space-size=256 --max-semi-space-size=8' },
  },
});
const N = Number(flags.logs);
const PER_BLOCK = Number(flags['logs-per-block']);
const REALTIME_SECONDS = Number(flags['realtime-seconds']);
const IN_FLIGHT = Number(flags['in-flight']);
const say = (line: string) => process.stdout.write(`${line}\n`);
const freePort = async () => (await import('get-port')).default({ host: '127.0.0.1' });
const emitter = compileFixture('Emitter');

/** The dataset's anvil: loaded from the cached dump, or built once and dumped. */
async function datasetChain(): Promise<{ anvil: Anvil; address: Address; head: number }> {
  mkdirSync(CACHE, { recursive: true });
  const stateFile = path.join(CACHE, `emitter-${N}-${PER_BLOCK}.json`);
  const metaFile = `${stateFile}.meta.json`;
  if (existsSync(stateFile) && existsSync(metaFile)) {
    const anvil = await startAnvil({ port: await freePort(), extraArgs: [...ANVIL_ARGS, '--load-state', stateFile] });
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { address: Address; head: number };
    say(`dataset: reloaded ${stateFile}`);
    return { anvil, ...meta };
  }
  say(`dataset: building ${N} logs, ${PER_BLOCK} per block (once; cached in bench/.cache) …`);
  const anvil = await startAnvil({ port: await freePort(), extraArgs: [...ANVIL_ARGS, '--dump-state', stateFile] });
  const transport = http(anvil.url);
  const client = createPublicClient({ transport, cacheTime: 0 });
  const [account] = await createWalletClient({ transport }).getAddresses();
  const wallet = createWalletClient({ transport, account: account! });
  const deploy = await wallet.deployContract({ abi: emitter.abi, bytecode: emitter.bytecode, args: [], chain: null } as never);
  const address = (await client.waitForTransactionReceipt({ hash: deploy })).contractAddress!;
  let sent = 0;
  for (let salt = 1; sent < N; salt++) {
    const count = Math.min(PER_BLOCK, N - sent);
    const hash = await wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitMany', args: [BigInt(count), BigInt(salt)], chain: null, gas: 30_000_000n + BigInt(count) * 4_000n } as never);
    await client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    sent += count;
  }
  const head = Number(await client.getBlockNumber());
  await anvil.stop(); // writes the dump
  writeFileSync(metaFile, JSON.stringify({ address, head }));
  const reloaded = await startAnvil({ port: await freePort(), extraArgs: [...ANVIL_ARGS, '--load-state', stateFile] });
  return { anvil: reloaded, address, head };
}

/** Parallel eth_getLogs + decode + COPY: what the hardware allows without any orchestration. */
async function raw(rpcUrl: string, db: pg.Pool, address: Address, head: number): Promise<{ seconds: number; logs: number }> {
  await db.query('DROP SCHEMA IF EXISTS bench_raw CASCADE; CREATE SCHEMA bench_raw');
  await db.query(`CREATE TABLE bench_raw.transfer (chain_id bigint, block_number bigint, block_hash text, log_index integer, tx_hash text, address text,
    "from" text, "to" text, value numeric(78,0), PRIMARY KEY (chain_id, block_number, log_index))`);
  const client = createPublicClient({ transport: http(rpcUrl) });
  const rangeBlocks = Math.max(1, Math.floor(5_000 / PER_BLOCK));
  const ranges: Array<[number, number]> = [];
  for (let from = 0; from <= head; from += rangeBlocks) ranges.push([from, Math.min(head, from + rangeBlocks - 1)]);
  let logs = 0;
  const started = Date.now();
  const worker = async () => {
    for (let r = ranges.shift(); r; r = ranges.shift()) {
      const found = await client.request({ method: 'eth_getLogs', params: [{ address, fromBlock: `0x${r[0].toString(16)}`, toBlock: `0x${r[1].toString(16)}` }] });
      const lines = found.map((log) => {
        const { args } = decodeEventLog({ abi: emitter.abi as Abi, data: log.data, topics: log.topics as [Hex, ...Hex[]] }) as unknown as { args: { from: string; to: string; value: bigint } };
        return `31337\t${BigInt(log.blockNumber!)}\t${log.blockHash}\t${BigInt(log.logIndex!)}\t${log.transactionHash}\t${log.address}\t${args.from.toLowerCase()}\t${args.to.toLowerCase()}\t${args.value}\n`;
      });
      const conn = await db.connect();
      try {
        await pipeline(Readable.from(lines), conn.query(copyFrom('COPY bench_raw.transfer FROM STDIN')));
      } finally {
        conn.release();
      }
      logs += found.length;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return { seconds: (Date.now() - started) / 1000, logs };
}

/** Peak resident memory of a process, from the kernel's own high-water mark. */
function peakRssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  say(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
  const { anvil, address, head } = await datasetChain();
  const database = await resolveDatabase({ url: databaseUrl(), port: await freePort(), stateDir: path.join(CACHE, 'state') });
  const db = new pg.Pool({ connectionString: database.url, max: IN_FLIGHT + 2 });
  db.on('error', () => undefined);
  const cleanups: Array<() => Promise<unknown>> = [async () => db.end(), () => database.stop(), () => anvil.stop()];
  try {
    say(`raw: parallel eth_getLogs + decode + COPY, ${IN_FLIGHT} in flight …`);
    const rawResult = await raw(anvil.url, db, address, head);
    say(`raw: ${rawResult.logs} logs in ${rawResult.seconds.toFixed(1)} s = ${Math.round(rawResult.logs / rawResult.seconds)} logs/s`);

    const temporal = await startTemporalDevServer({ port: await freePort() });
    cleanups.unshift(() => temporal.stop());
    const name = `bench_${Date.now().toString(36)}`;
    const env = { ...process.env, NODE_OPTIONS: flags['worker-node-options'] || process.env.NODE_OPTIONS, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: name, DATABASE_URL: database.url, RPC_URL_31337: anvil.url, LOG_LEVEL: 'warn' };
    const worker = spawn(process.execPath, [path.join(ROOT, 'bin', 'indexer.mjs'), 'worker'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    cleanups.unshift(async () => {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    });
    const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
    cleanups.unshift(() => client.connection.close());
    const [spec] = buildSpecs(
      parseConfig(
        {
          name,
          chains: { local: { id: 31337, maxBlockRange: 2000, maxInFlight: IN_FLIGHT, pollIntervalMs: 500 } },
          contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi, startBlock: 0 }],
        },
        ROOT,
      ),
      () => undefined,
    );
    // Let the worker bundle its workflows and connect before the clock starts.
    await new Promise((r) => setTimeout(r, 8_000));
    say(`indexer: backfilling blocks 0-${head} …`);
    const started = Date.now();
    let peakMb = 0;
    await startIndexers(client, [spec!], name);
    const handle = client.workflow.getHandle(indexerWorkflowId(name, 31337));
    for (;;) {
      peakMb = Math.max(peakMb, peakRssMb(worker.pid!));
      const s = await handle.query<IndexerStatus>('status').catch(() => undefined);
      if (s && s.checkpoint >= head) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const indexerSeconds = (Date.now() - started) / 1000;
    peakMb = Math.max(peakMb, peakRssMb(worker.pid!));
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${name}".emitter_transfer`);
    const stored = rows[0].n as number;
    say(`indexer: ${stored} logs in ${indexerSeconds.toFixed(1)} s = ${Math.round(stored / indexerSeconds)} logs/s, worker peak RSS ${peakMb.toFixed(0)} MB`);

    let activities = 0;
    let events = 0;
    let runs = 0;
    let largestRun = 0;
    for await (const wf of client.workflow.list({ query: `WorkflowId = '${indexerWorkflowId(name, 31337)}'` })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const n = history.events?.length ?? 0;
      runs += 1;
      events += n;
      largestRun = Math.max(largestRun, n);
      activities += history.events?.filter((e) => e.activityTaskScheduledEventAttributes).length ?? 0;
    }

    // Realtime latency: one block with events per second, mined → rows committed.
    say(`realtime: a block with events every second for ${REALTIME_SECONDS} s …`);
    const transport = http(anvil.url);
    const chainClient = createPublicClient({ transport, cacheTime: 0 });
    const [account] = await createWalletClient({ transport }).getAddresses();
    const wallet = createWalletClient({ transport, account: account! });
    const latencies: number[] = [];
    for (let i = 0; i < REALTIME_SECONDS; i++) {
      const tick = Date.now();
      const hash = await wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitMany', args: [3n, BigInt(10_000_000 + i)], chain: null } as never);
      const receipt = await chainClient.waitForTransactionReceipt({ hash, pollingInterval: 10 });
      const mined = Date.now();
      for (;;) {
        const found = await db.query(`SELECT 1 FROM "${name}".emitter_transfer WHERE block_number = $1 LIMIT 1`, [String(receipt.blockNumber)]);
        if (found.rows.length > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      latencies.push(Date.now() - mined);
      await new Promise((r) => setTimeout(r, Math.max(0, 1_000 - (Date.now() - tick))));
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;

    const result = {
      at: new Date().toISOString(),
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      dataset: { logs: N, logsPerBlock: PER_BLOCK, blocks: head + 1 },
      raw: { logsPerSecond: Math.round(rawResult.logs / rawResult.seconds), seconds: rawResult.seconds, logs: rawResult.logs },
      indexer: {
        logsPerSecond: Math.round(stored / indexerSeconds),
        seconds: indexerSeconds,
        logs: stored,
        ratioToRaw: Number((stored / indexerSeconds / (rawResult.logs / rawResult.seconds)).toFixed(2)),
        workerPeakRssMb: Math.round(peakMb),
        activities,
        historyEvents: events,
        runs,
        largestRunEvents: largestRun,
        equalsChainLogCount: stored === N,
      },
      realtime: { pollIntervalMs: 500, samples: latencies.length, p50Ms: pct(50), p95Ms: pct(95) },
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(path.join(RESULTS, `${result.at.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(result, null, 2)}\n`);
    const md = [
      `Benchmark ${result.at} on ${result.machine}; ${N} logs, ${PER_BLOCK} per block.`,
      '',
      '| | logs/s | wall time | notes |',
      '|---|---|---|---|',
      `| raw (getLogs + decode + COPY) | ${result.raw.logsPerSecond} | ${rawResult.seconds.toFixed(1)} s | ${IN_FLIGHT} in flight |`,
      `| indexer (Temporal) | ${result.indexer.logsPerSecond} | ${indexerSeconds.toFixed(1)} s | ratio ${result.indexer.ratioToRaw}× raw; worker peak RSS ${result.indexer.workerPeakRssMb} MB; ${activities} activities; ${events} history events in ${runs} runs (largest ${largestRun}); rows = chain: ${result.indexer.equalsChainLogCount} |`,
      `| realtime latency | | | p50 ${result.realtime.p50Ms} ms, p95 ${result.realtime.p95Ms} ms (poll 500 ms, ${latencies.length} blocks) |`,
      '',
    ].join('\n');
    writeFileSync(path.join(RESULTS, 'latest.md'), md);
    say(md);
    if (!result.indexer.equalsChainLogCount) throw new Error(`the indexer stored ${stored} logs, the chain has ${N}`);
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
}

await main();
process.exit(0);
