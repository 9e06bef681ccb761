/**
 * `npm run bench:reads [-- --events 200000 --logs-per-block 100 --handlers supply,allowance --raw-batch 100 --raw-in-flight 4 --sequential-sample 20000 "--worker-node-args=--cpu-prof --cpu-prof-dir=/tmp/prof" --image DIR --label TEXT]`
 * (bench/README.md, "Handlers that read the chain").
 *
 * Handlers that read the chain (issue 36, "Performance"), on the Transfer dataset of bench/run.ts
 * with Uniswap v2's ERC20 on the same chain (bench/reads-dataset.ts). The handler reads, for every
 * Transfer, `balanceOf(to)` and a second view of the token at the event's block, and stores both
 * with the event's position through `store`:
 * - `supply`: `totalSupply()`, the issue's handler. Its request is the same for every event of a
 *   block, so the batch's own answers serve it after the block's first event: about one eth_call
 *   per event reaches the node, not two.
 * - `allowance`: `allowance(from, to)`, a request of its own per event: two eth_call per event.
 * It measures, in one run (each measurement after a CHECKPOINT, the worker already up):
 * 1. raw pipelines in this process, no database, no Temporal: eth_getLogs + the same two eth_call
 *    per event at its block, in JSON-RPC batches (the limit; bench/raw-reads.ts); the same calls
 *    one event at a time (a request per event, awaited: the round trips of a handler that awaits
 *    its reads), on a sample; and bench/raw.ts's lean ingest baseline.
 * 2. the indexer without handlers: ingest alone, logs/s.
 * 3. the indexer with the same handler without reads (the row's values from the event): ingest
 *    and handlers side by side from `indexer start` until the handlers caught up, then `indexer
 *    rebuild` (the rebuild update; the clock stops when the replay has caught up).
 * 4. per handler: the same, cold (empty `_rpc_cache`), then `indexer rebuild` with the worker
 *    restarted behind a counting proxy in front of anvil (test/helpers/fault-proxy.ts): every
 *    request the worker makes during the rebuild is counted; its eth_call must be 0.
 * Rows are checked: one per event, balances summed against the dataset's construction, a sample
 * against eth_call at the event's block, and the table the same after the rebuild as before.
 * Results go to bench/results/reads-<time>.json and bench/results/reads-latest.md.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { createPublicClient, http, parseAbi, type Address } from 'viem';
import { startIndexers } from '../src/cli/start-command';
import { parseConfig } from '../src/config/load';
import { buildSpecs } from '../src/config/resolve';
import { resolveDatabase } from '../src/dev/database';
import { startTemporalDevServer, type DevServer } from '../src/dev/temporal-server';
import { databaseUrl } from '../src/env';
import { BOOKKEEPING } from '../src/db/schema';
import { WHOLE_BLOCK, stageCheckpoint } from '../src/db/stages';
import { indexerWorkflowId } from '../src/spec';
import { HANDLERS_STAGE } from '../src/stages/handlers/derived-state';
import { rebuildUpdate } from '../src/stages/handlers/workflow';
import type { IndexerStatus } from '../src/workflows/messages';
import { startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy';
import { cpuSnapshot, cpuSpent, describeCpu, type CpuSeconds } from './cpu';
import { CACHE, ROOT, emitter, freePort } from './dataset';
import { runRaw } from './raw';
import { runRawReads, type RawReadsResult, type SecondRead } from './raw-reads';
import { expectedBalance, expectedBalanceSum, readsDatasetChain, type ReadsDataset } from './reads-dataset';

const RESULTS = path.join(ROOT, 'bench', 'results');
const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    'logs-per-block': { type: 'string', default: '100' },
    'in-flight': { type: 'string', default: '4' },
    handlers: { type: 'string', default: 'supply,allowance' },
    'raw-batch': { type: 'string', default: '100' },
    'raw-in-flight': { type: 'string', default: '4' },
    'sequential-sample': { type: 'string', default: '20000' },
    'worker-node-options': { type: 'string', default: '' },
    // Node flags NODE_OPTIONS refuses, e.g. "--worker-node-args=--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the workers.
    'worker-node-args': { type: 'string', default: '' },
    // A directory holding another build's bin/ and dist/ (e.g. another commit's, built apart) for
    // the workers, instead of building this checkout; and a label for the results.
    image: { type: 'string', default: '' },
    label: { type: 'string', default: '' },
  },
});
const EVENTS = Number(flags.events);
const PER_BLOCK = Number(flags['logs-per-block']);
const SECONDS_READS = flags.handlers.split(',').filter(Boolean) as SecondRead[];
for (const s of SECONDS_READS) if (s !== 'supply' && s !== 'allowance') throw new Error(`--handlers: supply or allowance, not ${s}`);
const say = (line: string) => process.stdout.write(`${line}\n`);
/** Where the workers' bin/ and dist/ are (buildImage). */
let IMAGE: { dir: string; digest: string } = { dir: ROOT, digest: '' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const erc20 = parseAbi(['function balanceOf(address) view returns (uint256)', 'function totalSupply() view returns (uint256)', 'function allowance(address, address) view returns (uint256)']);

/** A digest of every file under src/: which code a build was made of. */
function srcDigest(): string {
  const hash = createHash('sha256');
  const src = path.join(ROOT, 'src');
  const files = readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
  for (const file of files) hash.update(path.relative(src, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 12);
}

/**
 * The workers run the compiled CLI as the image ships it: bin/ and dist/ without src/. This
 * checkout is built, and bin/ and dist/ are copied to bench/.cache/image-<pid>/ (one per bench
 * process, removed at its end) and run from there:
 * bin/indexer.mjs runs dist/ only while it is newer than every file under src/ (otherwise the
 * sources through tsx), so in the checkout itself an edit of src/ during the bench, or another
 * build, would change the code of the workers spawned after it. Modules resolve from the
 * checkout's node_modules (a parent directory).
 */
function buildImage(): { dir: string; digest: string } {
  if (flags.image) {
    const dir = path.resolve(flags.image);
    if (!existsSync(path.join(dir, 'bin', 'indexer.mjs')) || !existsSync(path.join(dir, 'dist', 'build-info.json'))) throw new Error(`--image ${dir}: no bin/indexer.mjs or dist/build-info.json there`);
    return { dir, digest: '' };
  }
  const before = srcDigest();
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const dir = path.join(CACHE, `image-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true });
  cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  const after = srcDigest();
  if (after !== before) say(`note: src/ changed while dist/ was built (digest ${before} → ${after}): the workers run the build, whichever it caught`);
  return { dir, digest: before };
}

/**
 * The handlers module: a row per Transfer, `balanceOf(to)` and the second read at the event's
 * block (`reads`: null for the same handler without reads, which stores the event's value and 0).
 */
function handlersModule(token: Address, reads: SecondRead | null): string {
  const second = reads === 'supply' ? `client.readContract({ address: token, abi, functionName: 'totalSupply' })` : `client.readContract({ address: token, abi, functionName: 'allowance', args: [from, to] })`;
  const body = reads
    ? `const [balance, other] = await Promise.all([
        client.readContract({ address: token, abi, functionName: 'balanceOf', args: [to] }),
        ${second},
      ]);`
    : `const balance = event.args.value;
      const other = 0n;`;
  return `// bench/chain-reads.ts: ${reads ? `balanceOf(to) and ${reads === 'supply' ? 'totalSupply()' : 'allowance(from, to)'} at every Transfer's block` : 'the same handler without reads'}.
const token = '${token}';
const abi = [
  { type: 'function', name: 'balanceOf', stateMutability: 'view', inputs: [{ name: 'owner', type: 'address' }], outputs: [{ type: 'uint256' }] },
  { type: 'function', name: 'totalSupply', stateMutability: 'view', inputs: [], outputs: [{ type: 'uint256' }] },
  { type: 'function', name: 'allowance', stateMutability: 'view', inputs: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }], outputs: [{ type: 'uint256' }] },
];
export default {
  async setup({ db }) {
    await db.query('create table if not exists reads (block_number bigint not null, log_index integer not null, account text not null, balance numeric(78,0) not null, other numeric(78,0) not null, primary key (block_number, log_index))');
  },
  on: {
    async 'Emitter:Transfer'({ event, store${reads ? ', client' : ''} }) {
      const { from, to } = event.args;
      ${body}
      store.set('reads', { block_number: event.block.number, log_index: event.log.index }, { account: to, balance, other });
    },
  },
};
`;
}

/** Peak resident memory of a process, from the kernel's own high-water mark. */
function peakRssMb(pid: number | undefined): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

interface Ctx {
  temporal: DevServer;
  client: Client;
  databaseUrl: string;
  db: pg.Pool;
  data: ReadsDataset;
}

/** Each measurement starts from the same database state (the dirty pages of the one before written out first). */
async function settle(db: pg.Pool): Promise<void> {
  await db.query('CHECKPOINT').catch(() => undefined);
}

async function storedCheckpoint(db: pg.Pool, name: string): Promise<number> {
  const found = await db.query(`SELECT block_number FROM "${name}"._checkpoints WHERE chain_id = 31337`).catch(() => ({ rows: [] }));
  return Number(found.rows[0]?.block_number ?? -1);
}

/** When the last range committed (ms since the epoch), as `_ranges.completed_at` records it. */
async function lastRangeCommittedAt(db: pg.Pool, name: string): Promise<number> {
  const { rows } = await db.query(`SELECT extract(epoch FROM max(completed_at))::float8 * 1000 AS ms FROM "${name}"._ranges WHERE chain_id = 31337`);
  return rows[0].ms as number;
}

/**
 * The handlers' checkpoint as their cursor row says (-1 before it exists): read from the database
 * every 100 ms instead of the workflow's status query, which would cost the worker's workflow
 * thread and the Temporal server a query ten times a second for minutes.
 */
async function handlersCheckpoint(db: pg.Pool, name: string): Promise<number> {
  const found = await db
    .query(`SELECT block_number, log_index FROM "${name}".${BOOKKEEPING.stages} WHERE chain_id = 31337 AND stage = $1`, [HANDLERS_STAGE])
    .catch(() => ({ rows: [] as Array<{ block_number: string; log_index: number }> }));
  const row = found.rows[0];
  return row ? stageCheckpoint({ block: Number(row.block_number), logIndex: Number(row.log_index) }) : -1;
}

/** Fails the bench when the handlers stage paused (a handler failed): asked of the workflow every 2 s. */
function pausedWatch(ctx: Ctx, name: string): () => Promise<IndexerStatus | undefined> {
  const handle = ctx.client.workflow.getHandle(indexerWorkflowId(name, 31337));
  let asked = 0;
  let status: IndexerStatus | undefined;
  return async () => {
    if (Date.now() - asked < 2_000) return status;
    asked = Date.now();
    status = await handle.query<IndexerStatus>('status').catch(() => status);
    if (status?.handlers?.paused) throw new Error(`the handlers of ${name} paused: ${status.handlers.lastError}`);
    return status;
  };
}

/** Until a worker polls `taskQueue` for both workflow (1) and activity (2) tasks. */
async function workerPolling(client: Client, taskQueue: string, worker: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (worker.exitCode !== null) throw new Error(`the worker exited (${worker.exitCode}) before it polled ${taskQueue}`);
    if (Date.now() > deadline) throw new Error(`no worker polled ${taskQueue} within 60 s`);
    const polled = await Promise.all(
      [1, 2].map(async (taskQueueType) => {
        const found = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, taskQueueType });
        return (found.pollers?.length ?? 0) > 0;
      }),
    );
    if (polled.every(Boolean)) return;
    await sleep(20);
  }
}

interface Worker {
  child: ChildProcess;
  metricsPort: number;
  stop: () => Promise<void>;
}

/** `indexer worker` (compiled, as the image runs it) for task queue `name`, reading the chain at `rpcUrl`; returns once it polls. */
async function spawnWorker(ctx: Ctx, name: string, rpcUrl: string): Promise<Worker> {
  const metricsPort = await freePort();
  const env = {
    ...process.env,
    NODE_OPTIONS: flags['worker-node-options'],
    TEMPORAL_ADDRESS: ctx.temporal.address,
    TEMPORAL_TASK_QUEUE: name,
    DATABASE_URL: ctx.databaseUrl,
    RPC_URL_31337: rpcUrl,
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, [...flags['worker-node-args'].split(' ').filter(Boolean), path.join(IMAGE.dir, 'bin', 'indexer.mjs'), 'worker'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  // A bench that fails mid-run must not leave a worker polling a dev server that is gone.
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  child.once('exit', () => process.removeListener('exit', orphaned));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await workerPolling(ctx.client, name, child);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { child, metricsPort, stop };
}

/** HTTP requests the worker sent to the chain's endpoints since it started (its /metrics; a JSON-RPC batch is one). */
async function workerRpcRequests(worker: Worker): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) if (line.startsWith('indexer_rpc_requests{') && line.includes('chain_id="31337"')) sum += Number(line.split(' ').pop());
    return sum;
  } catch {
    return undefined;
  }
}

interface Run {
  name: string;
  worker: Worker;
  /** `indexer start` → the last range committed. */
  ingestSeconds: number;
  /** `indexer start` → the handlers' cursor at the last block (its row polled every 100 ms). */
  handlersSeconds?: number;
  peakRssMb: number;
  cpu?: CpuSeconds;
  /** HTTP requests from the worker to anvil over the run (start-up checks and ingest included). */
  rpcRequests?: number;
  rows: number;
  /** Entries of `_rpc_cache` after the run: each one an eth_call that reached anvil. */
  cacheEntries?: number;
}

/** `indexer start` → everything stored (and handled), with the worker already up; the indexer is left running. */
async function coldRun(ctx: Ctx, handlersFile: string | undefined): Promise<Run> {
  const name = `bench_reads_${Date.now().toString(36)}`;
  const [spec] = buildSpecs(
    parseConfig(
      {
        name,
        chains: { local: { id: 31337, maxBlockRange: 2000, maxInFlight: Number(flags['in-flight']), pollIntervalMs: 500 } },
        contracts: [{ name: 'Emitter', chain: 'local', address: ctx.data.address, abi: emitter.abi, startBlock: 0 }],
        ...(handlersFile ? { handlers: handlersFile } : {}),
      },
      ROOT,
    ),
    () => undefined,
  );
  await settle(ctx.db);
  const worker = await spawnWorker(ctx, name, ctx.data.anvil.url);
  const cpuBefore = cpuSnapshot(worker.child.pid);
  const started = Date.now();
  await startIndexers(ctx.client, [spec!], name);
  const watch = pausedWatch(ctx, name);
  let peak = 0;
  let ingestSeconds: number | undefined;
  let handlersSeconds: number | undefined;
  while (ingestSeconds === undefined || (handlersFile && handlersSeconds === undefined)) {
    peak = Math.max(peak, peakRssMb(worker.child.pid));
    if (worker.child.exitCode !== null) throw new Error(`the worker of ${name} exited (${worker.child.exitCode})`);
    if (ingestSeconds === undefined && (await storedCheckpoint(ctx.db, name)) >= ctx.data.head) ingestSeconds = (await lastRangeCommittedAt(ctx.db, name)) / 1000 - started / 1000;
    if (handlersFile && handlersSeconds === undefined) {
      if ((await handlersCheckpoint(ctx.db, name)) >= ctx.data.head) handlersSeconds = (Date.now() - started) / 1000;
      else await watch();
    }
    await sleep(100);
  }
  peak = Math.max(peak, peakRssMb(worker.child.pid));
  const cpu = cpuSpent(cpuBefore, cpuSnapshot(worker.child.pid));
  const rpcRequests = await workerRpcRequests(worker);
  const { rows } = await ctx.db.query(`SELECT count(*)::int AS n FROM "${name}".emitter_transfer`);
  const cache = handlersFile ? await ctx.db.query(`SELECT count(*)::int AS n FROM "${name}"._rpc_cache`) : undefined;
  return { name, worker, ingestSeconds, handlersSeconds, peakRssMb: Math.round(peak), cpu, rpcRequests, rows: rows[0].n as number, cacheEntries: cache?.rows[0].n as number | undefined };
}

interface Rebuild {
  /** The rebuild update sent → the replay caught up with the ingest checkpoint. */
  seconds: number;
  events: number;
  peakRssMb: number;
  cpu?: CpuSeconds;
  /** JSON-RPC calls that reached anvil during the rebuild, by method (the counting proxy). */
  calls: Record<string, number>;
  cacheEntries: number;
}

/**
 * `indexer rebuild` of a run: its worker restarted behind a counting proxy in front of anvil (its
 * only endpoint), then the rebuild update, then the handlers' cursor until the replay has caught up.
 */
async function rebuildRun(ctx: Ctx, run: Run, proxy: FaultProxy): Promise<Rebuild> {
  await run.worker.stop();
  run.worker = await spawnWorker(ctx, run.name, proxy.url());
  const handle = ctx.client.workflow.getHandle(indexerWorkflowId(run.name, 31337));
  await settle(ctx.db);
  const before = new Map(proxy.stats.methods);
  const cpuBefore = cpuSnapshot(run.worker.child.pid);
  const started = Date.now();
  await handle.executeUpdate(rebuildUpdate, { args: [{ rebuildId: randomUUID() }] });
  // The update answers once the derived tables are emptied and the cursor is back before the first
  // event (handlers/workflow.ts): from then on the cursor's row is the replay's progress.
  const watch = pausedWatch(ctx, run.name);
  let peak = 0;
  while ((await handlersCheckpoint(ctx.db, run.name)) < ctx.data.head) {
    peak = Math.max(peak, peakRssMb(run.worker.child.pid));
    if (run.worker.child.exitCode !== null) throw new Error(`the worker of ${run.name} exited (${run.worker.child.exitCode})`);
    await watch();
    await sleep(100);
  }
  const seconds = (Date.now() - started) / 1000;
  // The workflow's own view agrees (it learns of the last batch when its activity ends).
  let status: IndexerStatus | undefined;
  for (let i = 0; i < 100; i++) {
    status = await handle.query<IndexerStatus>('status').catch(() => status);
    if (status?.handlers && !status.handlers.rebuilding && status.handlers.checkpoint >= ctx.data.head) break;
    await sleep(100);
  }
  if (!status?.handlers || status.handlers.rebuilding || status.handlers.checkpoint < ctx.data.head) throw new Error(`the rebuild of ${run.name} is not over in the workflow's status 10 s after its cursor reached the head`);
  peak = Math.max(peak, peakRssMb(run.worker.child.pid));
  const cpu = cpuSpent(cpuBefore, cpuSnapshot(run.worker.child.pid));
  const calls: Record<string, number> = {};
  for (const [method, n] of proxy.stats.methods) if (n - (before.get(method) ?? 0) > 0) calls[method] = n - (before.get(method) ?? 0);
  const cache = await ctx.db.query(`SELECT count(*)::int AS n FROM "${run.name}"._rpc_cache`).catch(() => ({ rows: [{ n: 0 }] }));
  return { seconds, events: status!.handlers!.eventsHandled, peakRssMb: Math.round(peak), cpu, calls, cacheEntries: cache.rows[0].n as number };
}

async function finish(ctx: Ctx, run: Run): Promise<void> {
  await ctx.client.workflow.getHandle(indexerWorkflowId(run.name, 31337)).terminate('bench over').catch(() => undefined);
  await run.worker.stop();
  await ctx.db.query(`DROP SCHEMA IF EXISTS "${run.name}" CASCADE`);
}

/** The handler's table: a fingerprint of every row, their count and the balances' sum. */
async function readsTable(db: pg.Pool, name: string): Promise<{ rows: number; balanceSum: bigint; fingerprint: string; others: string[] }> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n, coalesce(sum(balance), 0)::text AS balances, md5(string_agg(ROW(block_number, log_index, account, balance, other)::text, ',' ORDER BY block_number, log_index)) AS fingerprint,
            array(SELECT DISTINCT other::text FROM "${name}".reads) AS others
       FROM "${name}".reads`,
  );
  return { rows: rows[0].n, balanceSum: BigInt(rows[0].balances), fingerprint: rows[0].fingerprint, others: rows[0].others };
}

/** The reads stored equal eth_call at the event's block: all of them by construction, a sample of them asked of anvil. */
async function checkReads(ctx: Ctx, name: string, second: SecondRead): Promise<string[]> {
  const problems: string[] = [];
  const table = await readsTable(ctx.db, name);
  if (table.rows !== ctx.data.logs) problems.push(`${table.rows} rows, the chain has ${ctx.data.logs} Transfers`);
  const blocks = Math.ceil(ctx.data.logs / ctx.data.perBlock);
  if (table.balanceSum !== expectedBalanceSum(blocks)) problems.push(`sum of balanceOf(to) ${table.balanceSum}, expected ${expectedBalanceSum(blocks)}`);
  const other = second === 'supply' ? ctx.data.supply : 0n;
  if (table.others.length !== 1 || table.others[0] !== other.toString()) problems.push(`${second} values ${table.others.join(', ')}, expected only ${other}`);
  const chain = createPublicClient({ transport: http(ctx.data.anvil.url) });
  const { rows: sample } = await ctx.db.query(
    `SELECT r.block_number::text AS block, r.log_index, r.account, r.balance::text AS balance, r.other::text AS other, t."from" AS sender
       FROM "${name}".reads r JOIN "${name}".emitter_transfer t ON t.block_number = r.block_number AND t.log_index = r.log_index
      ORDER BY md5(r.block_number::text || ':' || r.log_index) LIMIT 100`,
  );
  for (const r of sample) {
    const blockNumber = BigInt(r.block);
    const [balance, second2] = await Promise.all([
      chain.readContract({ address: ctx.data.token, abi: erc20, functionName: 'balanceOf', args: [r.account], blockNumber }),
      second === 'supply'
        ? chain.readContract({ address: ctx.data.token, abi: erc20, functionName: 'totalSupply', blockNumber })
        : chain.readContract({ address: ctx.data.token, abi: erc20, functionName: 'allowance', args: [r.sender, r.account], blockNumber }),
    ]);
    if (balance.toString() !== r.balance || second2.toString() !== r.other) problems.push(`block ${r.block} log ${r.log_index}: stored ${r.balance}/${r.other}, eth_call ${balance}/${second2}`);
    // The construction itself (bench/reads-dataset.ts): the block's first recipient holds the block's salt in tokens.
    const salt = BigInt(r.account) / 1000n;
    if (balance !== expectedBalance(salt, BigInt(r.account) % 1000n)) problems.push(`block ${r.block} log ${r.log_index}: eth_call says ${balance}, the dataset's construction ${expectedBalance(salt, BigInt(r.account) % 1000n)}`);
  }
  return problems;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');

async function main(): Promise<void> {
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const loadBefore = os.loadavg()[0]!;
  say(`machine: ${machine}; load average ${loadBefore.toFixed(1)}; ${flags.image ? `workers from ${flags.image}` : 'building dist/ (the workers run compiled code, as the image does)'} …`);
  IMAGE = buildImage();
  const version = [flags.label, IMAGE.digest && `src/ digest ${IMAGE.digest}`, flags.image && `image ${flags.image}`].filter(Boolean).join(', ');
  const data = await readsDatasetChain(EVENTS, PER_BLOCK, say);
  const database = await resolveDatabase({ url: databaseUrl(), port: await freePort(), stateDir: path.join(CACHE, 'state') });
  const db = new pg.Pool({ connectionString: database.url, max: 6 });
  db.on('error', () => undefined);
  const temporal = await startTemporalDevServer({ port: await freePort() });
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  const ctx: Ctx = { temporal, client, databaseUrl: database.url, db, data };
  const proxy = await startFaultProxy(data.anvil.url);
  const table: string[] = ['| measurement | seconds | rate | ratio | worker peak RSS | notes |', '|---|---|---|---|---|---|'];
  const row = (label: string, seconds: number | undefined, rate: string, ratio: string, rss: string, notes: string) =>
    table.push(`| ${label} | ${seconds === undefined ? '' : seconds.toFixed(1)} | ${rate} | ${ratio} | ${rss} | ${notes} |`);
  const notes = (...parts: Array<string | undefined | false>) => parts.filter(Boolean).join('; ');
  const result: Record<string, unknown> = { events: EVENTS, perBlock: PER_BLOCK, blocks: data.head + 1, loadBefore, version };
  const targets: string[] = [];
  try {
    // A read at the first and the last block of events: the dump kept every block's state.
    const chain = createPublicClient({ transport: http(data.anvil.url) });
    for (const blockNumber of [3n, BigInt(data.head)]) await chain.readContract({ address: data.token, abi: erc20, functionName: 'totalSupply', blockNumber });

    // 1. Raw pipelines.
    const raws: Partial<Record<SecondRead, RawReadsResult & { cpu?: CpuSeconds }>> = {};
    const expectedSum = expectedBalanceSum(Math.ceil(EVENTS / PER_BLOCK));
    for (const second of SECONDS_READS.includes('supply') ? SECONDS_READS : ['supply' as const, ...SECONDS_READS]) {
      const cpuBefore = cpuSnapshot();
      const r = await runRawReads(data.anvil.url, data.address, data.token, data.head, { second, batch: Number(flags['raw-batch']), inFlight: Number(flags['raw-in-flight']) });
      raws[second] = { ...r, cpu: cpuSpent(cpuBefore, cpuSnapshot()) };
      if (r.events !== EVENTS || r.balances !== expectedSum) throw new Error(`raw reads (${second}): ${r.events} events, balances summing to ${r.balances} (expected ${EVENTS}, ${expectedSum})`);
      say(`raw reads (balanceOf + ${second}), batches of ${flags['raw-batch']}, ${flags['raw-in-flight']} in flight: ${r.seconds.toFixed(1)} s, ${fmt(r.events / r.seconds)} events/s, ${fmt(r.calls / r.seconds)} eth_call/s`);
      row(
        `raw: eth_getLogs + balanceOf(to) + ${second === 'supply' ? 'totalSupply()' : 'allowance(from, to)'} per event, JSON-RPC batches (the limit)`,
        r.seconds,
        `${fmt(r.events / r.seconds)} events/s`,
        '',
        '',
        notes(`${r.calls.toLocaleString('en')} eth_call (${fmt(r.calls / r.seconds)}/s) in ${r.requests.toLocaleString('en')} requests: batches of ${flags['raw-batch']}, ${flags['raw-in-flight']} chunks of 100 blocks in flight; no database`, describeCpu(raws[second]!.cpu)),
      );
    }
    const sample = Number(flags['sequential-sample']);
    let sequential: (RawReadsResult & { cpu?: CpuSeconds }) | undefined;
    if (sample > 0) {
      const cpuBefore = cpuSnapshot();
      sequential = await runRawReads(data.anvil.url, data.address, data.token, data.head, { second: 'supply', oneEventAtATime: true, maxEvents: sample });
      sequential.cpu = cpuSpent(cpuBefore, cpuSnapshot());
      say(`raw reads one event at a time: ${fmt(sequential.events / sequential.seconds)} events/s over ${sequential.events} events`);
      row(
        `raw: the same calls one event at a time (a request per event, awaited), first ${sequential.events.toLocaleString('en')} events`,
        sequential.seconds,
        `${fmt(sequential.events / sequential.seconds)} events/s`,
        '',
        '',
        notes(`each request [eth_chainId, eth_blockNumber, balanceOf, totalSupply], as the worker's batches are; ${fmt(sequential.requests / sequential.seconds)} round trips/s`, describeCpu(sequential.cpu)),
      );
    }
    await settle(db);
    const leanCpu = cpuSnapshot();
    const lean = await runRaw('lean', data.anvil.url, db, data.address, data.head);
    const leanSpent = cpuSpent(leanCpu, cpuSnapshot());
    row('raw: getLogs + lean decode + COPY (bench/run.ts\'s ingest baseline)', lean.seconds, `${fmt(lean.logs / lean.seconds)} logs/s`, '', '', describeCpu(leanSpent));
    result.raw = { reads: raws, sequential, lean: { ...lean, cpu: leanSpent } };

    // 2. Ingest alone.
    const ingest = await coldRun(ctx, undefined);
    await finish(ctx, ingest);
    if (ingest.rows !== data.logs) throw new Error(`ingest stored ${ingest.rows} logs, the chain has ${data.logs}`);
    say(`ingest alone: ${fmt(data.logs / ingest.ingestSeconds)} logs/s, peak RSS ${ingest.peakRssMb} MB`);
    row('indexer: ingest alone (no handlers)', ingest.ingestSeconds, `${fmt(data.logs / ingest.ingestSeconds)} logs/s`, `${(lean.seconds / ingest.ingestSeconds).toFixed(2)}× lean raw`, `${ingest.peakRssMb} MB`, describeCpu(ingest.cpu));
    result.ingest = { ...ingest, worker: undefined };

    // 3. The same handler without reads.
    const plainFile = path.join(CACHE, 'reads-none-handlers.mjs');
    writeFileSync(plainFile, handlersModule(data.token, null));
    const plain = await coldRun(ctx, plainFile);
    const plainTable = await readsTable(db, plain.name);
    if (plainTable.rows !== data.logs) throw new Error(`the handler without reads stored ${plainTable.rows} rows, the chain has ${data.logs} Transfers`);
    const plainRebuild = await rebuildRun(ctx, plain, proxy);
    const plainAfter = await readsTable(db, plain.name);
    await finish(ctx, plain);
    if (plainAfter.fingerprint !== plainTable.fingerprint) throw new Error('the rebuild of the handler without reads left another table');
    const plainRate = data.logs / plain.handlersSeconds!;
    const plainRebuildRate = data.logs / plainRebuild.seconds;
    say(`no reads: handlers ${fmt(plainRate)} events/s beside ingest, rebuild ${fmt(plainRebuildRate)} events/s`);
    row('indexer + the same handler without reads: ingest beside it', plain.ingestSeconds, `${fmt(data.logs / plain.ingestSeconds)} logs/s`, '', `${plain.peakRssMb} MB`, describeCpu(plain.cpu));
    row('indexer + the same handler without reads: `indexer start` → handlers caught up', plain.handlersSeconds, `${fmt(plainRate)} events/s`, `${(plain.handlersSeconds! / plain.ingestSeconds).toFixed(2)}× ingest's time`, '', 'until the handlers caught up; CPU above');
    row('`indexer rebuild` of the handler without reads', plainRebuild.seconds, `${fmt(plainRebuildRate)} events/s`, '', `${plainRebuild.peakRssMb} MB`, notes(`requests at anvil: ${JSON.stringify(plainRebuild.calls)}; table equal before and after: true`, describeCpu(plainRebuild.cpu)));
    result.plain = { cold: { ...plain, worker: undefined }, rebuild: plainRebuild };
    const peaks = [ingest.peakRssMb, plain.peakRssMb, plainRebuild.peakRssMb];

    // 4. The handlers that read the chain: cold, then rebuild from the cache.
    const withReads: Record<string, unknown> = {};
    for (const second of SECONDS_READS) {
      const label = second === 'supply' ? 'balanceOf(to) + totalSupply()' : 'balanceOf(to) + allowance(from, to)';
      const file = path.join(CACHE, `reads-${second}-handlers.mjs`);
      writeFileSync(file, handlersModule(data.token, second));
      const cold = await coldRun(ctx, file);
      const coldProblems = await checkReads(ctx, cold.name, second);
      const coldTable = await readsTable(db, cold.name);
      const rebuild = await rebuildRun(ctx, cold, proxy);
      const rebuildProblems = await checkReads(ctx, cold.name, second);
      const after = await readsTable(db, cold.name);
      if (after.fingerprint !== coldTable.fingerprint) rebuildProblems.push('the table after the rebuild differs from the one before');
      await finish(ctx, cold);
      const raw = raws[second]!;
      const coldRate = data.logs / cold.handlersSeconds!;
      const rebuildRate = data.logs / rebuild.seconds;
      const ethCalls = rebuild.calls.eth_call ?? 0;
      peaks.push(cold.peakRssMb, rebuild.peakRssMb);
      say(`${label}: cold ${fmt(coldRate)} events/s (${(cold.handlersSeconds! / raw.seconds).toFixed(2)}× the raw pipeline's time), rebuild ${fmt(rebuildRate)} events/s (${(rebuildRate / plainRebuildRate).toFixed(2)}× without reads), eth_call during the rebuild ${ethCalls}`);
      row(`indexer + ${label}, cold: ingest beside it`, cold.ingestSeconds, `${fmt(data.logs / cold.ingestSeconds)} logs/s`, '', `${cold.peakRssMb} MB`, describeCpu(cold.cpu));
      row(
        `indexer + ${label}, cold (empty \`_rpc_cache\`): \`indexer start\` → handlers caught up`,
        cold.handlersSeconds,
        `${fmt(coldRate)} events/s`,
        `**${(cold.handlersSeconds! / raw.seconds).toFixed(2)}× the raw pipeline's time**; ${(coldRate / plainRate).toFixed(2)}× the speed without reads`,
        '',
        notes(
          `${cold.cacheEntries?.toLocaleString('en')} eth_call reached anvil (= \`_rpc_cache\` entries), ${cold.rpcRequests?.toLocaleString('en')} HTTP requests from the worker in all (ingest's included)`,
          `rows = eth_call at the event's block: ${coldProblems.length === 0 ? 'true' : coldProblems.slice(0, 3).join(' | ')}`,
        ),
      );
      row(
        `\`indexer rebuild\` of ${label} (warm cache)`,
        rebuild.seconds,
        `${fmt(rebuildRate)} events/s`,
        `**${(rebuildRate / plainRebuildRate).toFixed(2)}× the rebuild without reads**; ${(rebuildRate / plainRate).toFixed(2)}× without reads beside ingest`,
        `${rebuild.peakRssMb} MB`,
        notes(
          `**eth_call at anvil during the rebuild: ${ethCalls}** (every request: ${JSON.stringify(rebuild.calls)})`,
          `cache entries ${cold.cacheEntries} → ${rebuild.cacheEntries}`,
          `table equal before and after, rows = eth_call: ${rebuildProblems.length === 0 ? 'true' : rebuildProblems.slice(0, 3).join(' | ')}`,
          describeCpu(rebuild.cpu),
        ),
      );
      targets.push(
        `${label}: cold ${(cold.handlersSeconds! / raw.seconds).toFixed(2)}× the raw pipeline's time (target ≤ 2×: ${cold.handlersSeconds! <= 2 * raw.seconds ? 'met' : 'missed'}); rebuild ${(rebuildRate / plainRebuildRate).toFixed(2)}× the rebuild without reads (target ≥ 0.5×: ${rebuildRate >= 0.5 * plainRebuildRate ? 'met' : 'missed'}), ${(rebuildRate / plainRate).toFixed(2)}× without reads beside ingest; eth_call during the rebuild: ${ethCalls} (target 0: ${ethCalls === 0 ? 'met' : 'missed'})`,
      );
      withReads[second] = { cold: { ...cold, worker: undefined }, coldProblems, rebuild, rebuildProblems, rawSeconds: raw.seconds };
      if (coldProblems.length > 0 || rebuildProblems.length > 0) say(`${label}: WRONG READS: ${[...coldProblems, ...rebuildProblems].slice(0, 10).join('; ')}`);
    }
    result.withReads = withReads;
    const peak = Math.max(...peaks);
    targets.push(`worker peak RSS over every run: ${peak} MB (target < 400 MB: ${peak < 400 ? 'met' : 'missed'})`);
  } finally {
    await proxy.stop().catch(() => undefined);
    await client.connection.close().catch(() => undefined);
    await temporal.stop().catch(() => undefined);
    await db.end().catch(() => undefined);
    await database.stop().catch(() => undefined);
    await data.anvil.stop().catch(() => undefined);
  }
  const at = new Date().toISOString();
  mkdirSync(RESULTS, { recursive: true });
  const file = `reads-${at.replace(/[:.]/g, '-')}.json`;
  writeFileSync(path.join(RESULTS, file), `${JSON.stringify({ at, machine, ...result, targets }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  const md = [
    `Chain reads benchmark ${at} on ${machine} (load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0]!.toFixed(1)} at the end); ${EVENTS.toLocaleString('en')} Transfers, ${PER_BLOCK} per block; code: ${version || 'this checkout'}; \`results/${file}\`.`,
    '',
    ...table,
    '',
    ...targets.map((t) => `- ${t}`),
    '',
  ].join('\n');
  writeFileSync(path.join(RESULTS, 'reads-latest.md'), md);
  say(`\n${md}`);
}

await main();
process.exit(0);
