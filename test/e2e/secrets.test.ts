import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Address } from 'viem';
import { indexerWorkflowId } from '../../src/spec';
import type { IndexerStatus } from '../../src/workflows/messages';
import { e2e, indexerEnv } from '../helpers/fixture';
import { allHistoriesText } from '../helpers/history';
import { specsFrom, waitForCheckpoint, waitForStatus } from '../helpers/indexer';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { compileFixture } from '../helpers/solidity';
import { uniqueName } from '../helpers/stack';
import { eventually, runCli, spawnWorkerProcess, type CliRun, type WorkerProcess } from '../helpers/workers';

/**
 * DESIGN.md: RPC endpoints and the database URL are worker-side; they never enter workflow
 * input, history, logs or status. The RPC URL carries an API key in its path (as providers'
 * URLs do) and the database URL a password; neither may show up anywhere a user or Temporal
 * can read, even when activities fail while talking to that endpoint.
 */

const API_KEY = 'SECRETKEY123456';
const DB_PASSWORD = 'pw-S3CRET-xyz';
const ROLE = `indexer_secret_test_${Math.random().toString(36).slice(2, 8)}`;

let proxy: FaultProxy | undefined;
let worker: WorkerProcess | undefined;
let dir: string | undefined;
let schema: string | undefined;

const fx = e2e();
fx.defer(() => dir && rmSync(dir, { recursive: true, force: true }));
fx.defer(async () => {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
    worker.child.kill('SIGTERM');
    const killer = setTimeout(() => worker?.child.kill('SIGKILL'), 30_000);
    await worker.exited;
    clearTimeout(killer);
  }
  await proxy?.stop();
  if (schema) await fx.stack.db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await fx.stack.db.query(`DROP OWNED BY ${ROLE}`).catch(() => undefined);
  await fx.stack.db.query(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
});

/** Every form a secret could take in text: as is, URL-encoded, base64. */
function secretForms(secrets: string[]): string[] {
  return [...new Set(secrets.flatMap((s) => [s, encodeURIComponent(s), Buffer.from(s).toString('base64')]))];
}

function assertNoSecrets(text: string, forms: string[], where: string): void {
  for (const form of forms) {
    const at = text.indexOf(form);
    assert.ok(at < 0, `${where} leaks a secret (${JSON.stringify(form)}) at …${text.slice(Math.max(0, at - 120), at + form.length + 40)}…`);
  }
}

function cliOutput(run: CliRun): string {
  return `${run.stdout}\n${run.stderr}`;
}

/**
 * A login role with a password, on whatever PostgreSQL the stack runs (DATABASE_URL or the
 * embedded one), and the URL the worker connects with.
 */
async function roleWithPassword(): Promise<string | undefined> {
  const { rows } = await fx.stack.db.query<{ db: string }>('SELECT current_database() AS db');
  const database = rows[0]!.db;
  try {
    await fx.stack.db.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${DB_PASSWORD}'`);
  } catch (error) {
    if ((error as { code?: string }).code === '42501') return undefined; // insufficient_privilege
    throw error;
  }
  await fx.stack.db.query(`GRANT CREATE ON DATABASE "${database}" TO ${ROLE}`);
  const url = new URL(fx.stack.databaseUrl);
  url.username = ROLE;
  url.password = DB_PASSWORD;
  return url.toString();
}

test('the RPC URL and the database password appear nowhere in history, logs, CLI output or status', { timeout: 180_000 }, async (t) => {
  const databaseUrl = await roleWithPassword();
  if (!databaseUrl) {
    t.skip(`the PostgreSQL user of ${fx.stack.postgresKind === 'embedded' ? 'the embedded server' : 'DATABASE_URL'} may not CREATE ROLE, and this test needs a role with a password`);
    return;
  }
  const artifact = compileFixture('Emitter');
  proxy = await startFaultProxy(fx.chain.url);
  const secretPath = `/v2/${API_KEY}`;
  const rpcUrl = proxy.url(secretPath);
  const rpcLabel = `http://127.0.0.1:${proxy.port}/…`; // what the indexer shows instead of the URL
  const forms = secretForms([API_KEY, DB_PASSWORD, rpcUrl, databaseUrl]);

  // Some history on chain before the indexer starts: a backfill, then realtime.
  const address: Address = await fx.chain.deploy(artifact.abi, artifact.bytecode);
  for (let salt = 1n; salt <= 4n; salt++) await fx.chain.send(address, artifact.abi, 'emitMany', [5n, salt]);

  const name = uniqueName('secrets');
  schema = name;
  dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-secrets-'));
  // No rpc in the config: RPC_URL_31337 gives it to the CLI and the worker alike.
  const config = {
    name,
    chains: { local: { id: fx.chain.chainId, pollIntervalMs: 200, maxBlockRange: 2, maxInFlight: 2 } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: artifact.abi }],
  };
  const configFile = path.join(dir, 'indexer.config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const [spec] = specsFrom(config);
  assert.ok(spec);
  const workflowId = indexerWorkflowId(name, fx.chain.chainId);

  const env = { ...indexerEnv(fx.stack, name, fx.chain, [rpcUrl]), DATABASE_URL: databaseUrl, LOG_LEVEL: 'debug' };
  const cliRuns: Array<[string, CliRun]> = [];
  const cli = async (args: string[]) => {
    const run = await runCli(args, env);
    cliRuns.push([`indexer ${args.join(' ')}`, run]);
    return run;
  };

  worker = spawnWorkerProcess(env, ['--config', configFile]);
  await eventually(
    'the worker to start',
    async () => {
      if (worker!.child.exitCode !== null) throw new Error(`worker exited ${worker!.child.exitCode}: ${worker!.output()}`);
      return worker!.output().includes('worker started') ? true : undefined;
    },
    120_000,
  );

  const start = await cli(['start', '--config', configFile]);
  assert.equal(start.code, 0, cliOutput(start));
  assert.match(start.stdout, new RegExp(`started ${workflowId}`));

  const head = await fx.chain.publicClient.getBlockNumber();
  await waitForCheckpoint(fx.stack.client, spec, head);
  const { rows } = await fx.stack.db.query<{ n: string }>(`SELECT count(*) AS n FROM "${name}".emitter_transfer`);
  assert.equal(Number(rows[0]!.n), 20, 'four emitMany calls of five events each');
  assert.ok((proxy.stats.paths.get(secretPath) ?? 0) > 0, `the worker used the URL with the key: ${JSON.stringify([...proxy.stats.paths])}`);
  assert.deepEqual([...proxy.stats.paths.keys()], [secretPath], 'every RPC request went through the URL with the key');

  // An outage: getHead fails until its retries run out, and the failure reaches history and status.
  await proxy.stop();
  const down: IndexerStatus = await waitForStatus(fx.stack.client, spec, 'lastError while the RPC is down', (s) => s.lastError, 60_000, 500);
  assert.ok(down.lastError!.includes(rpcLabel), `lastError names the endpoint by its redacted label: ${down.lastError}`);
  assertNoSecrets(JSON.stringify(down), forms, 'the status query');

  const statusDown = await cli(['status', name, '--json']);
  assert.equal(statusDown.code, 0, cliOutput(statusDown));
  assert.ok(statusDown.stdout.includes(rpcLabel), `indexer status --json shows lastError: ${statusDown.stdout}`);
  const startDown = await cli(['start', '--config', configFile]);
  assert.equal(startDown.code, 0, cliOutput(startDown));
  assert.match(startDown.stdout, /is already running/);
  assert.ok(startDown.stderr.includes(`warning: RPC for chain ${fx.chain.chainId} (${rpcLabel}) is unreachable`), startDown.stderr);

  // Back up: new events are indexed and the error clears.
  await proxy.restart();
  await fx.chain.send(address, artifact.abi, 'emitMany', [3n, 9n]);
  const newHead = await fx.chain.publicClient.getBlockNumber();
  await waitForCheckpoint(fx.stack.client, spec, newHead, 90_000);
  await waitForStatus(fx.stack.client, spec, 'lastError to clear', (s) => s.lastError === null);
  const recount = await fx.stack.db.query<{ n: string }>(`SELECT count(*) AS n FROM "${name}".emitter_transfer`);
  assert.equal(Number(recount.rows[0]!.n), 23, 'and three more after the outage');
  const statusUp = await cli(['status', name, '--json']);
  assert.equal(statusUp.code, 0, cliOutput(statusUp));
  assert.equal((JSON.parse(statusUp.stdout) as IndexerStatus).checkpoint >= Number(newHead), true);
  const list = await cli(['list', '--json']);
  assert.equal(list.code, 0, cliOutput(list));

  // Workflow history: the spec is there, the failures are there, the secrets are not.
  const { workflows, text: history } = await allHistoriesText(fx.stack.client);
  assert.ok(workflows.some((w) => w.startsWith(`${workflowId}/`)), `history of ${workflowId} fetched: ${workflows.join(', ')}`);
  assert.ok(history.includes(address.toLowerCase()), 'the history holds the spec (its contract address): payloads were decoded');
  assert.ok(history.includes('emitter_transfer'), 'the history holds activity results (table names)');
  const label = rpcLabel.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  assert.match(history, new RegExp(`RPC eth_\\w+ to ${label} failed|${label} is failing`), 'the history holds the RPC failure, by the redacted label');
  assertNoSecrets(history, forms, 'workflow history');

  // CLI output, all of it.
  for (const [command, run] of cliRuns) assertNoSecrets(cliOutput(run), forms, command);

  // Worker logs at debug level, read after a clean shutdown so nothing is left unflushed.
  worker.child.kill('SIGTERM');
  const code = await worker.exited;
  const logs = worker.output();
  assert.equal(code, 0, `the worker stops cleanly on SIGTERM: ${logs.slice(-2000)}`);
  assert.ok(logs.includes('"msg":"activity failed"') && logs.includes(rpcLabel), 'the worker logged the failures, by the redacted label');
  assert.ok(logs.includes('"msg":"range indexed"'), 'debug logs were on');
  assertNoSecrets(logs, forms, 'worker logs');
});
