import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { Address } from 'viem';
import { startEmbeddedPostgres, type LocalPostgres } from '../../src/dev/postgres';
import { startTemporalDevServer, type DevServer } from '../../src/dev/temporal-server';
import { FAST_MINING_ANVIL_ARGS, seedEmitter } from '../helpers/chain';
import { e2e, indexerEnv } from '../helpers/fixture';
import { specsFrom, startIndexer, status, waitForCheckpoint } from '../helpers/indexer';
import { assertMatchesChain, EMITTER_TABLES } from '../helpers/oracle';
import { freePort } from '../helpers/ports';
import { compileFixture } from '../helpers/solidity';
import { uniqueName } from '../helpers/stack';
import { REPO_ROOT, eventually, spawnWorkerProcess, type WorkerProcess } from '../helpers/workers';

const emitter = compileFixture('Emitter');
const TABLES = EMITTER_TABLES;

let address: Address;
let head: bigint;
let totalLogs = 0;
const fx = e2e({
  chain: { anvilArgs: FAST_MINING_ANVIL_ARGS },
  setup: async ({ chain }) => ({ address, head, totalLogs } = await seedEmitter(chain, emitter, { txs: 40, logs: () => 25n, mine: () => 500 })),
});

function spec(name: string) {
  return specsFrom({
    name,
    chains: { local: { id: fx.chain.chainId, maxBlockRange: 20, maxInFlight: 4, pollIntervalMs: 200 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
  })[0]!;
}

/** A worker process that is killed when the test `t` ends, so tests do not load each other. */
function worker(t: TestContext, env: NodeJS.ProcessEnv): WorkerProcess {
  const w = spawnWorkerProcess({ [`RPC_URL_${fx.chain.chainId}`]: fx.chain.url, ...env });
  t.after(async () => {
    w.child.kill('SIGKILL');
    await w.exited;
  });
  return w;
}

async function rangesDone(metricsPort: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text(), () => '');
  return [...text.matchAll(/^indexer_ranges_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

const equalsChain = (schema: string, db = fx.stack.db) =>
  assertMatchesChain(db, fx.chain.publicClient, { schema, abi: emitter.abi, address, chainId: fx.chain.chainId, toBlock: head, tables: TABLES });

test('docker-compose.yml passes docker compose config', () => {
  const cached = path.join(process.env.TEMPORAL_CLI_CACHE_DIR || path.join(os.homedir(), '.cache', 'temporal-evm-indexer', 'bin'), 'docker-compose');
  const compose = (() => {
    try {
      execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
      return ['docker', 'compose'];
    } catch {
      return existsSync(cached) ? [cached] : undefined;
    }
  })();
  assert.ok(compose, 'docker compose is installed (scripts/install-compose.sh)');
  const out = execFileSync(compose[0]!, [...compose.slice(1), '-f', 'docker-compose.yml', '--env-file', '.env.example', 'config', '--format', 'json'], { cwd: REPO_ROOT }).toString();
  type Service = { deploy?: { replicas?: number }; build?: unknown; environment?: Record<string, string>; volumes?: Array<{ source: string; target: string }> };
  const config = JSON.parse(out) as { services: Record<string, Service> };
  assert.ok((config.services.worker?.deploy?.replicas ?? 0) >= 2, 'at least two workers');
  assert.ok(config.services.worker?.build, 'the worker is built from this repository');
  assert.ok(config.services.start, 'a one-shot indexer start');
  for (const service of ['temporal', 'temporal-ui', 'temporal-db', 'data-db', 'prometheus', 'grafana']) assert.ok(config.services[service], `${service} is there`);
  // worker and start must have DATABASE_URL (without it they refuse to run) and the worker METRICS_PORT.
  for (const service of ['worker', 'start']) assert.match(config.services[service]?.environment?.DATABASE_URL ?? '', /^postgres:\/\/.*@data-db:5432\//, `${service} has DATABASE_URL`);
  assert.equal(config.services.worker?.environment?.METRICS_PORT, '9464');
  // Prometheus loads this repository's config and alert rules; Grafana the dashboard.
  const mounts = (service: string) => (config.services[service]?.volumes ?? []).map((v) => `${path.relative(REPO_ROOT, v.source)} -> ${v.target}`);
  assert.ok(mounts('prometheus').includes('deploy/prometheus -> /etc/prometheus'), mounts('prometheus').join(', '));
  assert.ok(mounts('grafana').includes('deploy/grafana/dashboards -> /var/lib/grafana/dashboards'), mounts('grafana').join(', '));
});

test('two workers share a backfill; one is SIGKILLed, the other finishes and the data equals the chain', { timeout: 300_000 }, async (t) => {
  const name = uniqueName('two workers');
  const ports = [await freePort(), await freePort()];
  const env = indexerEnv(fx.stack, name);
  const a = worker(t, { ...env, METRICS_PORT: String(ports[0]) });
  const b = worker(t, { ...env, METRICS_PORT: String(ports[1]) });
  await eventually('both workers up', async () => ((await rangesDone(ports[0]!).catch(() => -1)) >= 0 && /worker started/.test(a.output()) && /worker started/.test(b.output()) ? true : undefined), 60_000);
  const s = spec(name);
  await startIndexer(fx.stack.client, s, name);

  const shares = await eventually(
    'both workers executing ranges',
    async () => {
      const done = [await rangesDone(ports[0]!), await rangesDone(ports[1]!)];
      return done[0]! >= 5 && done[1]! >= 5 ? done : undefined;
    },
    120_000,
    200,
  );
  a.child.kill('SIGKILL');
  await a.exited;
  const atKill = await status(fx.stack.client, s);
  assert.ok(atKill.checkpoint < Number(head), 'killed mid-backfill');
  await waitForCheckpoint(fx.stack.client, s, head, 240_000);
  const result = await equalsChain(name);
  assert.equal(result.rows, totalLogs);
  const finalB = await rangesDone(ports[1]!);
  console.log(`ranges per worker when A was killed: A=${shares[0]} B=${shares[1]}; B finished with ${finalB}`);
});

test('SIGTERM mid-backfill: the worker stops taking work, exits 0 within the grace time, nothing is lost', { timeout: 300_000 }, async (t) => {
  const name = uniqueName('sigterm');
  const port = await freePort();
  const env = { ...indexerEnv(fx.stack, name), WORKER_SHUTDOWN_GRACE_TIME: '10s' };
  const first = worker(t, { ...env, METRICS_PORT: String(port) });
  const s = spec(name);
  await startIndexer(fx.stack.client, s, name);
  await eventually('ranges being indexed', async () => ((await rangesDone(port)) >= 20 ? true : undefined), 120_000, 200);
  const sent = Date.now();
  first.child.kill('SIGTERM');
  const code = await first.exited;
  assert.equal(code, 0, first.output().slice(-2000));
  assert.ok(Date.now() - sent < 15_000, `exited within the grace time (${Date.now() - sent} ms)`);
  // No worker runs now, so nothing can answer a status query: read the stored checkpoint.
  const { rows } = await fx.stack.db.query(`SELECT block_number FROM "${name}"._checkpoints`);
  assert.ok(Number(rows[0].block_number) < Number(head), 'stopped mid-backfill');

  worker(t, env);
  await waitForCheckpoint(fx.stack.client, s, head, 240_000);
  assert.equal((await equalsChain(name)).rows, totalLogs);
});

test('the Temporal server is restarted mid-backfill (state on disk): the indexer resumes and ends equal to the chain', { timeout: 300_000 }, async (t) => {
  const name = uniqueName('temporal restart');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-temporal-'));
  const port = await freePort();
  const dbFilename = path.join(dir, 'temporal.db');
  let server: DevServer = await startTemporalDevServer({ port, dbFilename });
  t.after(() => server.stop());
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  t.after(() => client.connection.close());
  const metricsPort = await freePort();
  worker(t, { ...indexerEnv(fx.stack, name), TEMPORAL_ADDRESS: server.address, METRICS_PORT: String(metricsPort) });
  const s = spec(name);
  await startIndexer(client, s, name);
  await eventually('ranges being indexed', async () => ((await rangesDone(metricsPort)) >= 20 ? true : undefined), 120_000, 200);

  await server.stop();
  await new Promise((r) => setTimeout(r, 3_000));
  server = await startTemporalDevServer({ port, dbFilename });
  await waitForCheckpoint(client, s, head, 240_000);
  assert.equal((await equalsChain(name)).rows, totalLogs);
});

test('PostgreSQL is restarted mid-backfill: activities retry and the result is exact', { timeout: 300_000 }, async (t) => {
  const name = uniqueName('pg restart');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-pg-restart-'));
  chmodSync(dir, 0o755);
  const pgPort = await freePort();
  const dataDir = path.join(dir, 'data');
  let pg: LocalPostgres = await startEmbeddedPostgres({ dataDir, port: pgPort });
  t.after(() => pg.stop());
  const metricsPort = await freePort();
  worker(t, { ...indexerEnv(fx.stack, name), DATABASE_URL: pg.url, METRICS_PORT: String(metricsPort) });
  const s = spec(name);
  await startIndexer(fx.stack.client, s, name);
  await eventually('ranges being indexed', async () => ((await rangesDone(metricsPort)) >= 20 ? true : undefined), 120_000, 200);

  await pg.stop();
  await eventually('the outage to show', async () => ((await status(fx.stack.client, s)).lastError ? true : undefined), 60_000, 200).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 2_000));
  pg = await startEmbeddedPostgres({ dataDir, port: pgPort });
  await waitForCheckpoint(fx.stack.client, s, head, 240_000);
  const { default: pgLib } = await import('pg');
  const db = new pgLib.Pool({ connectionString: pg.url });
  db.on('error', () => undefined);
  try {
    assert.equal((await equalsChain(name, db)).rows, totalLogs);
  } finally {
    await db.end();
  }
});
