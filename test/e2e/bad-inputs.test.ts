import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Address } from 'viem';
import { indexerWorkflowId } from '../../src/spec';
import { e2e, indexerEnv } from '../helpers/fixture';
import { specsFrom, startIndexer, waitForStatus } from '../helpers/indexer';
import { freePort } from '../helpers/ports';
import { uniqueName } from '../helpers/stack';
import { assertOneLineError, runCli, startInProcessWorker, type RunningWorker } from '../helpers/workers';

/** Whether a bad input left a schema behind (it must not). */
async function schemaExists(name: string): Promise<boolean> {
  const { rows } = await t.stack.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name]);
  return rows.length > 0;
}

/**
 * Each bad input gives a clear one-line error and writes nothing (DESIGN.md, "Where checks
 * happen"): the real CLI against a real Temporal dev server, a real anvil and a real PostgreSQL.
 */

const t = e2e();
const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-bad-inputs-'));
t.defer(() => rmSync(dir, { recursive: true, force: true }));
let worker: RunningWorker | undefined;
t.defer(() => worker?.stop());
const started: string[] = [];
t.defer(async () => {
  for (const id of started) await t.stack.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
});

const ABI = [
  {
    type: 'event',
    name: 'Transfer',
    anonymous: false,
    inputs: [
      { name: 'from', type: 'address', indexed: true },
      { name: 'to', type: 'address', indexed: true },
      { name: 'value', type: 'uint256', indexed: false },
    ],
  },
];
const TOKEN: Address = '0x5fbdb2315678afecb367f032d93f642f64180aa3';

/** A valid config; each case breaks one thing in it. */
function goodConfig(name: string, chainOverrides: Record<string, unknown> = {}) {
  return {
    name,
    chains: { local: { id: 31337, pollIntervalMs: 200, ...chainOverrides } },
    contracts: [{ name: 'Token', chain: 'local', address: TOKEN, abi: ABI, startBlock: 5 }],
  };
}

let files = 0;
function writeConfig(content: unknown): string {
  const file = path.join(dir, `config-${++files}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

function cliEnv(taskQueue: string): NodeJS.ProcessEnv {
  return { ...indexerEnv(t.stack, taskQueue), LOG_LEVEL: 'info' };
}

/** Nothing written: no PostgreSQL schema for the name, and no workflow in Temporal. */
async function assertWroteNothing(name: string, chainId = 31337): Promise<void> {
  assert.equal(await schemaExists(name), false, `schema "${name}" must not exist`);
  await assert.rejects(
    t.stack.client.workflow.getHandle(indexerWorkflowId(name, chainId)).describe(),
    (error: unknown) => error instanceof WorkflowNotFoundError,
    `workflow ${indexerWorkflowId(name, chainId)} must not exist`,
  );
}

interface BadConfigCase {
  title: string;
  /** The config file's content; a string is written as is. */
  content: (name: string) => unknown;
  /** What the one line must say: the field at fault and what is wrong with it. */
  expected: RegExp;
  /** `indexer worker` reads the config too, and must refuse it the same way. */
  worker?: boolean;
}

const BAD_CONFIGS: BadConfigCase[] = [
  {
    title: 'invalid JSON on one line',
    content: () => '{"name": "x", chains: {}}',
    expected: /config-\d+\.json is not valid JSON/,
    worker: true,
  },
  {
    // V8 quotes the broken source in its message, newlines included.
    title: 'invalid JSON over several lines',
    content: (name) => JSON.stringify(goodConfig(name), null, 2).replace('"startBlock": 5', '"startBlock": five'),
    expected: /config-\d+\.json is not valid JSON/,
    worker: true,
  },
  {
    title: 'a name that is not a schema name',
    content: (name) => ({ ...goodConfig(name), name: 'Bad-Name' }),
    expected: /config\.name: must match \[a-z\]\[a-z0-9_\]\*/,
    worker: true,
  },
  {
    title: 'a malformed contract address',
    content: (name) => {
      const config = goodConfig(name);
      return { ...config, contracts: [{ ...config.contracts[0], address: '0x1234' }] };
    },
    expected: /config\.contracts\[0\]\.address: must be a 0x-prefixed 20-byte hex address/,
    worker: true,
  },
  {
    title: 'an unknown key in a chain',
    content: (name) => goodConfig(name, { rpcUrl: 'http://127.0.0.1:8545' }),
    expected: /config\.chains\.local.*rpcUrl/,
  },
  {
    title: 'an ABI with an integer width that does not exist',
    content: (name) => {
      const config = goodConfig(name);
      const abi = [{ ...ABI[0], inputs: [...ABI[0]!.inputs.slice(0, 2), { name: 'value', type: 'uint7', indexed: false }] }];
      return { ...config, contracts: [{ ...config.contracts[0], abi }] };
    },
    expected: /contracts\.Token\.abi: event Transfer: bad integer width in "uint7"/,
  },
  {
    title: 'an ABI with an unknown type',
    content: (name) => {
      const config = goodConfig(name);
      const abi = [{ ...ABI[0], inputs: [...ABI[0]!.inputs.slice(0, 2), { name: 'value', type: 'foo', indexed: false }] }];
      return { ...config, contracts: [{ ...config.contracts[0], abi }] };
    },
    expected: /contracts\.Token\.abi: event Transfer: unknown type "foo"/,
  },
  {
    title: 'an ABI file that does not exist',
    content: (name) => {
      const config = goodConfig(name);
      return { ...config, contracts: [{ ...config.contracts[0], abi: './abis/Missing.json' }] };
    },
    expected: /contracts\[0\]\.abi: \.\/abis\/Missing\.json: file not found/,
  },
  {
    title: 'an event the ABI does not have',
    content: (name) => {
      const config = goodConfig(name);
      return { ...config, contracts: [{ ...config.contracts[0], events: ['Transfer', 'Approval'] }] };
    },
    expected: /contracts\.Token\.events: no event "Approval" in the ABI \(it has: Transfer\)/,
  },
];

for (const c of BAD_CONFIGS) {
  test(`bad config, ${c.title}: one-line error, nothing written`, { timeout: 60_000 }, async () => {
    const name = uniqueName(c.title);
    const file = writeConfig(c.content(name));
    const run = await runCli(['start', '--config', file], cliEnv(name));
    assertOneLineError(run, c.expected, 'indexer start');
    assert.equal(run.stdout, '', 'indexer start prints nothing on stdout when it refuses a config');
    if (c.worker) {
      const w = await runCli(['worker', '--config', file], cliEnv(name), { timeoutMs: 30_000 });
      assertOneLineError(w, c.expected, 'indexer worker');
    }
    await assertWroteNothing(name);
  });
}

test('wrong chain id: indexer start and indexer worker refuse it, nothing written', { timeout: 60_000 }, async () => {
  const name = uniqueName('wrong chain id');
  const file = writeConfig(goodConfig(name, { id: 999, rpc: t.chain.url }));
  const mismatch = new RegExp(`chain id mismatch: the config says 999 but ${t.chain.url.replace(/[.]/g, '\\.')} serves chain 31337`);

  const run = await runCli(['start', '--config', file], cliEnv(name));
  assertOneLineError(run, mismatch, 'indexer start');
  assert.equal(run.stdout, '');

  const w = await runCli(['worker', '--config', file], cliEnv(name), { timeoutMs: 30_000 });
  assert.notEqual(w.code, 0, `indexer worker: exit ${w.code}\n${w.stdout}\n${w.stderr}`);
  assertOneLineError(w, mismatch, 'indexer worker');
  await assertWroteNothing(name, 999);
});

test('wrong chain id that reaches a worker anyway (started without the CLI): paused with lastError, nothing written', { timeout: 60_000 }, async () => {
  const name = uniqueName('wrong chain worker');
  const [spec] = specsFrom(goodConfig(name, { id: 999 }));
  assert.ok(spec);
  worker ??= await startInProcessWorker(t.stack, { taskQueue: 'bad-inputs', rpc: { 999: [t.chain.url] } });
  await startIndexer(t.stack.client, spec, 'bad-inputs');
  started.push(indexerWorkflowId(name, 999));

  const s = await waitForStatus(t.stack.client, spec, 'lastError on the wrong chain id', (current) => current.lastError);
  assert.match(s.lastError!, /chain id mismatch: the config says 999 but http:\/\/127\.0\.0\.1:\d+ serves chain 31337/);
  assert.equal(s.paused, true, 'an error retries cannot fix pauses the indexer');
  assert.equal(s.mode, 'paused');
  assert.equal(s.checkpoint, 4, 'checkpoint stays at startBlock - 1');
  assert.equal(await schemaExists(name), false, `schema "${name}" must not exist`);
});

test('unreachable RPC: indexer start warns and starts; the workflow shows lastError naming the endpoint and writes nothing', { timeout: 120_000 }, async () => {
  const name = uniqueName('unreachable rpc');
  const deadPort = await freePort(); // nothing listens here
  const deadUrl = `http://127.0.0.1:${deadPort}`;
  const file = writeConfig(goodConfig(name, { rpc: deadUrl }));

  const run = await runCli(['start', '--config', file], cliEnv(name));
  const shown = `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  assert.equal(run.code, 0, `an unreachable RPC is a transient fault, not a refusal\n${shown}`);
  const warnings = run.stderr.trimEnd().split('\n');
  assert.equal(warnings.length, 1, `one warning line\n${shown}`);
  assert.match(warnings[0]!, new RegExp(`^warning: .*unreachable.*${deadUrl.replace(/[.]/g, '\\.')}`), shown);
  assert.match(run.stdout, new RegExp(`^started indexer:${name}:31337 `), shown);
  const workflowId = indexerWorkflowId(name, 31337);
  started.push(workflowId);

  // The worker's RPC for the chain is the same unreachable endpoint.
  const w = await startInProcessWorker(t.stack, { taskQueue: name, rpc: { 31337: [deadUrl] } });
  try {
    const [spec] = specsFrom(goodConfig(name));
    assert.ok(spec);
    const s = await waitForStatus(t.stack.client, spec, 'lastError naming the unreachable endpoint', (current) => current.lastError, 90_000, 500);
    assert.match(s.lastError!, new RegExp(`${deadUrl.replace(/[.]/g, '\\.')}(?![0-9])`), `lastError names the endpoint: ${s.lastError}`);
    assert.equal(s.checkpoint, 4, 'checkpoint stays at startBlock - 1');
    assert.equal(s.paused, false, 'a transient fault does not pause the indexer');
    const description = await t.stack.client.workflow.getHandle(workflowId).describe();
    assert.equal(description.status.name, 'RUNNING', 'the workflow keeps retrying');
    assert.equal(await schemaExists(name), false, `schema "${name}" must not exist`);
  } finally {
    await t.stack.client.workflow.getHandle(workflowId).terminate('test over').catch(() => undefined);
    await w.stop();
  }
});

test('no DATABASE_URL: indexer worker and indexer start refuse in one line instead of starting a private embedded database', { timeout: 60_000 }, async () => {
  const name = uniqueName('no database url');
  const file = writeConfig(goodConfig(name, { rpc: t.chain.url }));
  const unset = { ...cliEnv(name), DATABASE_URL: '' }; // empty counts as unset
  const w = await runCli(['worker', '--config', file], unset, { timeoutMs: 30_000 });
  assertOneLineError(w, /^error: DATABASE_URL is not set: indexer worker needs the PostgreSQL the indexer writes to \(DATABASE_URL=postgres:\/\/.*\); for a local embedded one use indexer worker --embedded-postgres$/, 'indexer worker');
  assert.doesNotMatch(w.stdout, /embedded|postgres/i, 'no embedded PostgreSQL was started');
  const s = await runCli(['start', '--config', file], unset);
  assertOneLineError(s, /^error: DATABASE_URL is not set: indexer start needs/, 'indexer start');
  await assertWroteNothing(name);
});

test('bad environment values: one line naming the variable, secrets not echoed', { timeout: 180_000 }, async () => {
  const name = uniqueName('bad env');
  const file = writeConfig(goodConfig(name, { rpc: t.chain.url }));
  const cases: Array<[NodeJS.ProcessEnv, RegExp, string[]]> = [
    [{ METRICS_PORT: 'abc' }, /^error: METRICS_PORT=abc must be a TCP port \(1-65535\)$/, ['worker']],
    [{ WORKER_MAX_CONCURRENT_ACTIVITIES: 'many' }, /^error: WORKER_MAX_CONCURRENT_ACTIVITIES=many must be a whole number ≥ 1$/, ['worker']],
    [{ TEMPORAL_ADDRESS: 'http://temporal' }, /^error: TEMPORAL_ADDRESS=http:\/\/temporal must be host:port/, ['status']],
    [{ DATABASE_URL: 'mysql://root:hunter22@db/x' }, /^error: DATABASE_URL must be a postgres:\/\/ URL.*value not shown/, ['start']],
    [{ [`RPC_URL_31337`]: 'eth.example/v2/SECRETKEY' }, /^error: RPC_URL_31337 must be a comma-separated list of http\(s\):\/\/ or ws\(s\):\/\/ URLs/, ['worker']],
    [{ LOG_LEVEL: 'loud' }, /^error: LOG_LEVEL=loud must be one of/, ['worker']],
  ];
  for (const [env, expected, commands] of cases) {
    for (const command of commands) {
      const run = await runCli([command, ...(command === 'status' ? [] : ['--config', file])], { ...cliEnv(name), ...env }, { timeoutMs: 30_000 });
      const line = assertOneLineError(run, expected, `indexer ${command} with ${JSON.stringify(env)}`);
      assert.ok(!line.includes('hunter22') && !line.includes('SECRETKEY'), `no secret in: ${line}`);
    }
  }
  await assertWroteNothing(name);
});
