/**
 * `npm run bench [-- --datasets 200000,1000000 --logs-per-block 100 --realtime-seconds 30 --skip-handlers --raw lean --rounds 5]`
 *
 * For each dataset (an Emitter's ERC-20 Transfer events on anvil, bench/dataset.ts), in one run:
 * 1. raw baselines without orchestration (bench/raw.ts): eth_getLogs only; getLogs + lean decode
 *    + COPY; getLogs + viem decode + COPY.
 * 2. indexer: `indexer start` to the last row, worker start-up included (the compiled CLI, as the
 *    image runs it, no NODE_OPTIONS caps): logs/s, worker peak RSS, activities, history events
 *    and bytes per range; then the same with the worker already up, start-up left out.
 * 3. handlers: the same with the README's balances handler (through the store), and on the first
 *    dataset the same balances as pipelined upserts (db.query) and the tests' balances + transfer
 *    counts through the store: ingest and handlers throughput side by side.
 * 4. realtime (first dataset): a block with events every second, mined → rows committed, p50/p95.
 * Results go to bench/results/<time>.json and bench/results/latest.md.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { createPublicClient, createWalletClient, http } from 'viem';
import { startIndexers } from '../src/cli/start-command';
import { parseConfig } from '../src/config/load';
import { buildSpecs } from '../src/config/resolve';
import { resolveDatabase } from '../src/dev/database';
import { startTemporalDevServer, type DevServer } from '../src/dev/temporal-server';
import { databaseUrl } from '../src/env';
import { indexerWorkflowId } from '../src/spec';
import type { IndexerStatus } from '../src/workflows/messages';
import { README_BALANCES_HANDLERS, SQL_BALANCES_HANDLERS, STORE_BALANCES_HANDLERS } from '../test/helpers/balances';
import { CACHE, ROOT, datasetChain, emitter, freePort, type Dataset } from './dataset';
import { cpuSnapshot, cpuSpent, describeCpu, type CpuSeconds } from './cpu';
import { runRaw, type RawPipeline } from './raw';

const RESULTS = path.join(ROOT, 'bench', 'results');
const { values: flags } = parseArgs({
  options: {
    datasets: { type: 'string', default: '200000,1000000' },
    'logs-per-block': { type: 'string', default: '100' },
    'realtime-seconds': { type: 'string', default: '30' },
    'in-flight': { type: 'string', default: '4' },
    'skip-handlers': { type: 'boolean', default: false },
    // The lean baseline always runs (the ratios are to it); A/B runs may leave the others out: --raw lean.
    raw: { type: 'string', default: 'getLogs,lean,viem' },
    // None by default: memory must stay bounded without caps (issue 18); set to compare.
    'worker-node-options': { type: 'string', default: '' },
    // Node flags NODE_OPTIONS refuses, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the worker.
    'worker-node-args': { type: 'string', default: '' },
    // More rounds of lean baseline → indexer with the worker up → indexer with its start-up, one
    // after the other, whose per-round ratios are reported as medians: on a machine whose speed
    // drifts between minutes, one round's ratio is partly a draw.
    rounds: { type: 'string', default: '1' },
  },
});
const DATASETS = flags.datasets.split(',').map(Number);
const PER_BLOCK = Number(flags['logs-per-block']);
const IN_FLIGHT = Number(flags['in-flight']);
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Peak resident memory of a process, from the kernel's own high-water mark. */
function peakRssMb(pid: number | undefined): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

interface IndexerRun {
  seconds: number;
  logs: number;
  peakRssMb: number;
  activities: number;
  indexRanges: number;
  historyEvents: number;
  historyBytes: number;
  runs: number;
  /** With handlers: seconds until the handlers caught up, and their events. */
  handlersSeconds?: number;
  handlersEvents?: number;
  /** Accounts whose balance differs from the sum over the stored events (0: right). */
  balancesWrong?: number;
  phases?: Phases;
  /** CPU seconds per process group from `indexer start` until the run was seen finished (bench/cpu.ts). */
  cpu?: CpuSeconds;
}

/**
 * Each measurement starts from the same database state: the dirty pages of the one before are
 * written out first (CHECKPOINT; skipped where the role may not), instead of in the middle of it.
 */
async function settle(db: pg.Pool): Promise<void> {
  await db.query('CHECKPOINT').catch(() => undefined);
}

/** A finished run's schema goes, so autovacuum does not work through it during the runs after (each of which settles first). */
async function dropRun(db: pg.Pool, name: string): Promise<void> {
  await db.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
}

/** The checkpoint the indexer has stored; -1 before its tables exist. */
async function storedCheckpoint(db: pg.Pool, name: string): Promise<number> {
  const found = await db.query(`SELECT block_number FROM "${name}"._checkpoints WHERE chain_id = 31337`).catch(() => ({ rows: [] }));
  return Number(found.rows[0]?.block_number ?? -1);
}

/**
 * When the last row was stored (ms since the epoch): each range's transaction records its
 * completion at commit time. Read from the database rather than timed by polling the status query,
 * which rounded up to the next poll and cost the worker, the server and the workflow thread a
 * query ten times a second on the cores the run shares.
 */
async function lastRangeCommittedAt(db: pg.Pool, name: string): Promise<number> {
  const { rows } = await db.query(`SELECT extract(epoch FROM max(completed_at))::float8 * 1000 AS ms FROM "${name}"._ranges WHERE chain_id = 31337`);
  return rows[0].ms as number;
}

/** Temporal's task queue types (temporal.api.enums.v1.TaskQueueType). */
const WORKFLOW_QUEUE = 1;
const ACTIVITY_QUEUE = 2;

/** Until a worker polls `taskQueue` for both workflow and activity tasks: it is up (within 60 s, or the bench fails). */
async function workerPolling(client: Client, taskQueue: string, worker: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (worker.exitCode !== null) throw new Error(`the worker exited (${worker.exitCode}) before it polled ${taskQueue}`);
    if (Date.now() > deadline) throw new Error(`no worker polled ${taskQueue} within 60 s`);
    const polled = await Promise.all(
      [WORKFLOW_QUEUE, ACTIVITY_QUEUE].map(async (taskQueueType) => {
        const found = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, taskQueueType });
        return (found.pollers?.length ?? 0) > 0;
      }),
    );
    if (polled.every(Boolean)) return;
    await sleep(20);
  }
}

/**
 * `indexer start` → every row stored (and handled). By default the worker is spawned when the
 * clock starts, so its start-up counts; with `workerUp` it is spawned first and the clock starts
 * once it polls, as the first measurement did ("worker already up").
 */
async function runIndexer(
  ctx: { temporal: DevServer; client: Client; databaseUrl: string; db: pg.Pool },
  data: Dataset,
  options: { handlers?: string; keep?: boolean; workerUp?: boolean },
): Promise<IndexerRun & { name: string; worker: ChildProcess; stop: () => Promise<void> }> {
  const name = `bench_${Date.now().toString(36)}`;
  const env = {
    ...process.env,
    NODE_OPTIONS: flags['worker-node-options'],
    TEMPORAL_ADDRESS: ctx.temporal.address,
    TEMPORAL_TASK_QUEUE: name,
    DATABASE_URL: ctx.databaseUrl,
    RPC_URL_31337: data.anvil.url,
    LOG_LEVEL: 'warn',
  };
  const [spec] = buildSpecs(
    parseConfig(
      {
        name,
        chains: { local: { id: 31337, maxBlockRange: 2000, maxInFlight: IN_FLIGHT, pollIntervalMs: 500 } },
        contracts: [{ name: 'Emitter', chain: 'local', address: data.address, abi: emitter.abi, startBlock: 0 }],
        ...(options.handlers ? { handlers: options.handlers } : {}),
      },
      ROOT,
    ),
    () => undefined,
  );
  await settle(ctx.db);
  const spawnWorker = () => {
    const child = spawn(process.execPath, [...flags['worker-node-args'].split(' ').filter(Boolean), path.join(ROOT, 'bin', 'indexer.mjs'), 'worker'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    // A bench that fails mid-run must not leave a worker polling a dev server that is gone.
    const orphaned = () => child.kill('SIGKILL');
    process.once('exit', orphaned);
    child.once('exit', () => process.removeListener('exit', orphaned));
    return child;
  };
  const early = options.workerUp ? spawnWorker() : undefined;
  if (early) {
    await workerPolling(ctx.client, name, early).catch((error: unknown) => {
      early.kill('SIGKILL');
      throw error;
    });
  }
  // The worker's own start-up is not this measurement's when it was up before the clock started.
  const cpuBefore = cpuSnapshot(early?.pid);
  const started = Date.now();
  const worker = early ?? spawnWorker();
  const stop = async () => {
    if (worker.exitCode !== null) return;
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
  };
  await startIndexers(ctx.client, [spec!], name);
  const handle = ctx.client.workflow.getHandle(indexerWorkflowId(name, 31337));
  let peak = 0;
  let ingestSeconds: number | undefined;
  let handlersSeconds: number | undefined;
  let status: IndexerStatus | undefined;
  while (ingestSeconds === undefined || (options.handlers && handlersSeconds === undefined)) {
    peak = Math.max(peak, peakRssMb(worker.pid));
    if (ingestSeconds === undefined && (await storedCheckpoint(ctx.db, name)) >= data.head) ingestSeconds = (await lastRangeCommittedAt(ctx.db, name)) / 1000 - started / 1000;
    if (options.handlers) {
      status = await handle.query<IndexerStatus>('status').catch(() => status);
      if (status?.handlers && handlersSeconds === undefined && status.handlers.checkpoint >= data.head) handlersSeconds = (Date.now() - started) / 1000;
    }
    await sleep(100);
  }
  peak = Math.max(peak, peakRssMb(worker.pid));
  const cpu = cpuSpent(cpuBefore, cpuSnapshot(worker.pid));
  const { rows } = await ctx.db.query(`SELECT count(*)::int AS n FROM "${name}".emitter_transfer`);
  // The handlers' result checked against sums over the stored events, computed here in SQL.
  const balancesWrong = options.handlers
    ? ((
        await ctx.db.query(
          `WITH moved AS (SELECT "from" AS account, -value AS delta FROM "${name}".emitter_transfer UNION ALL SELECT "to", value FROM "${name}".emitter_transfer),
                expected AS (SELECT account, sum(delta) AS balance FROM moved GROUP BY account)
           SELECT count(*)::int AS n FROM expected e FULL JOIN "${name}".balances b USING (account) WHERE e.balance IS DISTINCT FROM b.balance`,
        )
      ).rows[0].n as number)
    : undefined;
  let activities = 0;
  let indexRanges = 0;
  let historyEvents = 0;
  let historyBytes = 0;
  let runs = 0;
  let phases: Phases | undefined;
  for await (const wf of ctx.client.workflow.list({ query: `WorkflowId = '${indexerWorkflowId(name, 31337)}'` })) {
    const history = await ctx.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    runs += 1;
    historyEvents += history.events?.length ?? 0;
    historyBytes += Buffer.byteLength(JSON.stringify(history));
    const scheduled = history.events?.filter((e) => e.activityTaskScheduledEventAttributes) ?? [];
    if (runs === 1) phases = phasesOf(history.events ?? [], started);
    activities += scheduled.length;
    indexRanges += scheduled.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'indexRange').length;
  }
  if (!options.keep) {
    await handle.terminate('bench over').catch(() => undefined);
    await stop();
    await dropRun(ctx.db, name);
  }
  return {
    name,
    worker,
    stop,
    seconds: ingestSeconds,
    logs: rows[0].n as number,
    peakRssMb: Math.round(peak),
    activities,
    indexRanges,
    historyEvents,
    historyBytes,
    runs,
    handlersSeconds,
    handlersEvents: status?.handlers?.eventsHandled,
    balancesWrong,
    phases,
    cpu,
  };
}

/** Every indexer run stored the chain's logs, no fewer and no more. */
function assertStoredEveryLog(runs: Array<{ logs: number }>, logs: number): void {
  for (const run of runs) if (run.logs !== logs) throw new Error(`the indexer stored ${run.logs} logs, the chain has ${logs}`);
}

/** One more round: the lean baseline, then the indexer with its worker up, then with its start-up; logs/s of each. */
async function measureRound(ctx: Parameters<typeof runIndexer>[0], data: Dataset, db: pg.Pool): Promise<{ lean: number; warm: number; cold: number }> {
  await settle(db);
  const raw = await runRaw('lean', data.anvil.url, db, data.address, data.head);
  const runs = [await runIndexer(ctx, data, { workerUp: true }), await runIndexer(ctx, data, {})];
  assertStoredEveryLog(runs, data.logs);
  const [warm, cold] = runs.map((run) => Math.round(run.logs / run.seconds)) as [number, number];
  const round = { lean: Math.round(raw.logs / raw.seconds), warm, cold };
  say(`${data.logs}: round: lean ${round.lean}, worker up ${(warm / round.lean).toFixed(2)}×, start-up included ${(cold / round.lean).toFixed(2)}×`);
  return round;
}

/** Where the seconds of a run went, from the first run's history: worker start-up, preparation, ranges. */
interface Phases {
  /** `indexer start` → the worker's first activity started. */
  firstActivity: number;
  /** → the first indexRange started. */
  firstRange: number;
  /** → the last indexRange of the first run completed. */
  lastRange: number;
}

type HistoryEvent = { eventTime?: { seconds?: unknown; nanos?: number | null } | null; activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null; activityTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null; activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null; eventId?: unknown };

function phasesOf(events: HistoryEvent[], startedMs: number): Phases | undefined {
  const at = (e: HistoryEvent) => (Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6 - startedMs) / 1000;
  const ranges = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'indexRange').map((e) => String(e.eventId)));
  const started = events.filter((e) => e.activityTaskStartedEventAttributes);
  const firstRange = started.find((e) => ranges.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)));
  const completed = events.filter((e) => ranges.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)));
  if (!started[0] || !firstRange || completed.length === 0) return undefined;
  return { firstActivity: at(started[0]), firstRange: at(firstRange), lastRange: at(completed[completed.length - 1]!) };
}

/** "first activity at …, first range …, last range done … of …": the run's phases; `startDigits` for the first two (hundredths where the worker was already up). */
function describePhases(run: Pick<IndexerRun, 'phases' | 'seconds'>, startDigits: number): string {
  const { phases } = run;
  if (!phases) return '';
  return `first activity at ${phases.firstActivity.toFixed(startDigits)} s, first range ${phases.firstRange.toFixed(startDigits)} s, last range done ${phases.lastRange.toFixed(1)} s of ${run.seconds.toFixed(1)} s`;
}

/** One block with events per second: mined → its rows committed. */
async function realtime(data: Dataset, db: pg.Pool, schema: string, seconds: number): Promise<{ p50: number; p95: number; samples: number }> {
  const transport = http(data.anvil.url);
  const chain = createPublicClient({ transport, cacheTime: 0 });
  const [account] = await createWalletClient({ transport }).getAddresses();
  const wallet = createWalletClient({ transport, account: account! });
  const latencies: number[] = [];
  for (let i = 0; i < seconds; i++) {
    const tick = Date.now();
    const hash = await wallet.writeContract({ address: data.address, abi: emitter.abi, functionName: 'emitMany', args: [3n, BigInt(10_000_000 + i)], chain: null } as never);
    const receipt = await chain.waitForTransactionReceipt({ hash, pollingInterval: 10 });
    const mined = Date.now();
    for (;;) {
      const found = await db.query(`SELECT 1 FROM "${schema}".emitter_transfer WHERE block_number = $1 LIMIT 1`, [String(receipt.blockNumber)]);
      if (found.rows.length > 0) break;
      await sleep(10);
    }
    latencies.push(Date.now() - mined);
    await sleep(Math.max(0, 1_000 - (Date.now() - tick)));
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return { p50: pct(50), p95: pct(95), samples: latencies.length };
}

async function main(): Promise<void> {
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  say(`machine: ${machine}; building dist/ (the worker runs compiled code, as the image does) …`);
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  mkdirSync(CACHE, { recursive: true });
  // The README's balances handler on every dataset; the tests' balances and transfer counts (twice
  // the statements) on the first one.
  const handlerRuns = [
    { label: 'README balances handler (store)', file: path.join(CACHE, 'readme-balances-handlers.mjs'), text: README_BALANCES_HANDLERS, firstDatasetOnly: false },
    { label: 'balances handler as 2 pipelined upserts per event (db.query)', file: path.join(CACHE, 'sql-balances-handlers.mjs'), text: SQL_BALANCES_HANDLERS, firstDatasetOnly: true },
    { label: 'balances + transfer counts handler (store)', file: path.join(CACHE, 'store-balances-handlers.mjs'), text: STORE_BALANCES_HANDLERS, firstDatasetOnly: true },
  ];
  for (const run of handlerRuns) writeFileSync(run.file, run.text);
  const database = await resolveDatabase({ url: databaseUrl(), port: await freePort(), stateDir: path.join(CACHE, 'state') });
  const db = new pg.Pool({ connectionString: database.url, max: 6 });
  db.on('error', () => undefined);
  const temporal = await startTemporalDevServer({ port: await freePort() });
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  const ctx = { temporal, client, databaseUrl: database.url, db };
  const results: Array<Record<string, unknown>> = [];
  const table: string[] = ['| logs | pipeline | logs/s | × lean raw | worker peak RSS | notes |', '|---|---|---|---|---|---|'];
  try {
    for (const [i, logs] of DATASETS.entries()) {
      const data = await datasetChain(logs, PER_BLOCK, say);
      try {
        const raw: Partial<Record<RawPipeline, { seconds: number; logs: number; logsPerSecond: number; cpu?: CpuSeconds }>> = {};
        for (const kind of (['getLogs', 'lean', 'viem'] as const).filter((k) => k === 'lean' || flags.raw.split(',').includes(k))) {
          await settle(db);
          const cpuBefore = cpuSnapshot();
          const r = await runRaw(kind, data.anvil.url, db, data.address, data.head);
          raw[kind] = { ...r, logsPerSecond: Math.round(r.logs / r.seconds), cpu: cpuSpent(cpuBefore, cpuSnapshot()) };
          say(`${logs}: raw ${kind}: ${raw[kind]!.logsPerSecond} logs/s`);
        }
        const lean = raw.lean!.logsPerSecond;
        // Before the run kept for realtime below (its worker goes on following the tip, and the
        // realtime blocks add logs to the chain): nothing else on the cores, the same logs.
        const warm = await runIndexer(ctx, data, { workerUp: true });
        const warmRate = Math.round(warm.logs / warm.seconds);
        say(`${logs}: indexer, worker already up: ${warmRate} logs/s (${(warmRate / lean).toFixed(2)}× lean)`);
        // Further rounds before the run kept for realtime, for the same reasons.
        const moreRounds: Array<{ lean: number; warm: number; cold: number }> = [];
        for (let round = 2; round <= Number(flags.rounds); round++) moreRounds.push(await measureRound(ctx, data, db));
        const indexer = await runIndexer(ctx, data, { keep: i === 0 });
        const indexerRate = Math.round(indexer.logs / indexer.seconds);
        say(`${logs}: indexer ${indexerRate} logs/s (${(indexerRate / lean).toFixed(2)}× lean), peak RSS ${indexer.peakRssMb} MB`);
        const rounds = [{ lean, warm: warmRate, cold: indexerRate }, ...moreRounds];
        let rt: Awaited<ReturnType<typeof realtime>> | undefined;
        if (i === 0) {
          rt = await realtime(data, db, indexer.name, Number(flags['realtime-seconds']));
          await client.workflow.getHandle(indexerWorkflowId(indexer.name, 31337)).terminate('bench over').catch(() => undefined);
          await indexer.stop();
          await dropRun(db, indexer.name);
        }
        const withHandlers: Array<{ label: string; run: Awaited<ReturnType<typeof runIndexer>> }> = [];
        for (const { label, file, firstDatasetOnly } of flags['skip-handlers'] ? [] : handlerRuns) {
          if (firstDatasetOnly && i > 0) continue;
          withHandlers.push({ label, run: await runIndexer(ctx, data, { handlers: file }) });
        }
        const row = (label: string, rate: number, rss = '', notes = '') => table.push(`| ${logs.toLocaleString('en')} | ${label} | ${rate.toLocaleString('en')} | ${(rate / lean).toFixed(2)} | ${rss} | ${notes} |`);
        const notes = (...parts: string[]) => parts.filter(Boolean).join('; ');
        if (raw.getLogs) row('raw: eth_getLogs only', raw.getLogs.logsPerSecond, '', notes('100-block chunks, 3 in flight', describeCpu(raw.getLogs.cpu)));
        row('raw: getLogs + lean decode + COPY', lean, '', notes('the baseline', describeCpu(raw.lean!.cpu)));
        if (raw.viem) row('raw: getLogs + viem decodeEventLog + COPY', raw.viem.logsPerSecond, '', describeCpu(raw.viem.cpu));
        row(
          'indexer: `indexer start` → last row, worker start-up included',
          indexerRate,
          `${indexer.peakRssMb} MB`,
          notes(
            `${indexer.indexRanges} ranges, ${indexer.activities} activities, ${indexer.historyEvents} history events in ${indexer.runs} run(s), ${Math.round(indexer.historyBytes / Math.max(1, indexer.indexRanges))} history bytes per range; rows = chain: ${indexer.logs === logs}`,
            describePhases(indexer, 1),
            describeCpu(indexer.cpu),
          ),
        );
        row(
          'indexer: `indexer start` → last row, worker already up',
          warmRate,
          `${warm.peakRssMb} MB`,
          notes(
            `rows = chain: ${warm.logs === logs}`,
            describePhases(warm, 2),
            describeCpu(warm.cpu),
          ),
        );
        for (const { label, run } of withHandlers) {
          if (!run.handlersSeconds) continue;
          const handled = Math.round(logs / run.handlersSeconds);
          const ingest = Math.round(run.logs / run.seconds);
          row(`indexer + ${label}: ingest`, ingest, `${run.peakRssMb} MB`, notes('ingest with the handlers stage running beside it', run.cpu ? `until the handlers caught up, ${describeCpu(run.cpu)}` : ''));
          row(`indexer + ${label}: handlers caught up`, handled, '', `handlers ${(ingest / handled).toFixed(2)}× slower than ingest in the same run; balances = sums over the stored events: ${run.balancesWrong === 0}`);
        }
        if (rounds.length > 1) {
          const spread = (key: 'warm' | 'cold') => {
            const ratios = rounds.map((r) => r[key] / r.lean).sort((a, b) => a - b);
            return `${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}× (${ratios.map((x) => x.toFixed(2)).join(', ')})`;
          };
          table.push(`| ${logs.toLocaleString('en')} | indexer ÷ lean over ${rounds.length} rounds (median; every round's, lowest first) | | | | start-up included ${spread('cold')}; worker already up ${spread('warm')}; lean ${rounds.map((r) => r.lean.toLocaleString('en')).join(', ')} logs/s, in round order |`);
        }
        if (rt) table.push(`| ${logs.toLocaleString('en')} | realtime: mined → committed | | | | p50 ${rt.p50} ms, p95 ${rt.p95} ms (poll 500 ms, ${rt.samples} blocks) |`);
        results.push({ logs, perBlock: PER_BLOCK, blocks: data.head + 1, raw, indexer: { ...indexer, worker: undefined, stop: undefined, logsPerSecond: indexerRate, ratioToLean: indexerRate / lean }, indexerWorkerUp: { ...warm, worker: undefined, stop: undefined, logsPerSecond: warmRate, ratioToLean: warmRate / lean }, rounds, withHandlers: withHandlers.map(({ label, run }) => ({ label, ...run, worker: undefined, stop: undefined })), realtime: rt });
        assertStoredEveryLog([indexer, warm], logs);
      } finally {
        await data.anvil.stop();
      }
    }
  } finally {
    await client.connection.close().catch(() => undefined);
    await temporal.stop().catch(() => undefined);
    await db.end().catch(() => undefined);
    await database.stop().catch(() => undefined);
  }
  const at = new Date().toISOString();
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, `${at.replace(/[:.]/g, '-')}.json`), `${JSON.stringify({ at, machine, results }, null, 2)}\n`);
  const md = [`Benchmark ${at} on ${machine} (load average ${os.loadavg()[0]!.toFixed(1)} at the end); ${PER_BLOCK} logs per block.`, '', ...table, ''].join('\n');
  writeFileSync(path.join(RESULTS, 'latest.md'), md);
  say(`\n${md}`);
}

await main();
process.exit(0);
