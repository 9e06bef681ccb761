import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Address } from 'viem';
import { indexerWorkflowId } from '../../src/spec';
import type { IndexerStatus } from '../../src/workflows/messages';
import { FAST_MINING_ANVIL_ARGS, seedEmitter } from '../helpers/chain';
import { reproduceImage, type ReproducedImage } from '../helpers/dockerfile';
import { e2e, indexerEnv } from '../helpers/fixture';
import { assertMatchesChain, EMITTER_TABLES } from '../helpers/oracle';
import { freePort } from '../helpers/ports';
import { compileFixture } from '../helpers/solidity';
import { uniqueName } from '../helpers/stack';
import { REPO_ROOT, eventually } from '../helpers/workers';

/**
 * What ships is what is tested: the Dockerfile's stages reproduced from the Dockerfile itself
 * (its COPY set, its RUN installs with their flags, its ENV, its ENTRYPOINT and CMD), then the
 * image's own command runs a worker against the test services and indexes a chain to its end,
 * with rows equal to the chain. A runtime import of a devDependency, a missing build output or a
 * worker that needs a compiler at run time fails here.
 */

const emitter = compileFixture('Emitter');
const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-image-'));
let image: ReproducedImage;
let address: Address;
let head: bigint;
let totalLogs = 0;
const children: ChildProcess[] = [];

const t = e2e({
  chain: { anvilArgs: FAST_MINING_ANVIL_ARGS },
  setup: async ({ chain }) => {
    const built = Promise.resolve().then(() =>
      // The local npm cache, so the installs do not refetch what this machine has (the commands run as written).
      reproduceImage(path.join(REPO_ROOT, 'Dockerfile'), REPO_ROOT, dir, { npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' }),
    );
    ({ address, head, totalLogs } = await seedEmitter(chain, emitter, { txs: 10, logs: () => 20n, mine: () => 200 }));
    image = await built;
  },
});
t.defer(() => rmSync(dir, { recursive: true, force: true }));
t.defer(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** The environment of a container from the image: its ENV and what the deployment sets, nothing else. */
function containerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: os.tmpdir(), ...image.env, ...extra };
}

/** The image's command (ENTRYPOINT + `args`), in the image's working directory. */
function run(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const [command, ...entry] = image.entrypoint;
  const child = spawn(command!, [...entry, ...args], { cwd: image.appDir, env: containerEnv(env) });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  return { child, output: () => output, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

async function runToEnd(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string; ms: number }> {
  const t0 = performance.now();
  const r = run(args, env);
  const code = await r.exited;
  return { code, output: r.output(), ms: performance.now() - t0 };
}

/** Records every module a process (and its children) loads, CommonJS and ESM, without changing what it does. */
function moduleTracer(): { nodeOptions: string; env: Record<string, string>; loaded: () => string[] } {
  const file = path.join(dir, 'modules.txt');
  const cjs = path.join(dir, 'trace.cjs');
  const esm = path.join(dir, 'trace.mjs');
  const hooks = path.join(dir, 'trace-hooks.mjs');
  writeFileSync(cjs, `const M = require('node:module'); const fs = require('node:fs'); const r = M._resolveFilename;
M._resolveFilename = function (...a) { const f = r.apply(this, a); fs.appendFileSync(process.env.MODULE_TRACE_FILE, f + '\\n'); return f; };\n`);
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';
export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(process.env.MODULE_TRACE_FILE, r.url + '\\n'); return r; }\n`);
  writeFileSync(esm, `import { register } from 'node:module'; register(${JSON.stringify(`file://${hooks}`)});\n`);
  return {
    nodeOptions: `--require ${cjs} --import ${esm}`,
    env: { MODULE_TRACE_FILE: file },
    loaded: () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []),
  };
}

test('the image as the Dockerfile builds it: no sources, no dev dependencies, a prebuilt workflow bundle', () => {
  console.log(`image reproduced: ${image.timings.map((t) => `${t.stage}: ${t.command} (${t.seconds.toFixed(0)} s)`).join('; ')}`);
  assert.deepEqual([...image.entrypoint, ...image.cmd], ['node', 'bin/indexer.mjs', 'worker']);
  assert.ok(!existsSync(path.join(image.appDir, 'src')), 'no TypeScript sources in the image');
  assert.ok(existsSync(path.join(image.appDir, 'dist', 'indexer.js')), 'the compiled CLI');
  assert.ok(existsSync(path.join(image.appDir, 'dist', 'workflows.js')), 'the prebuilt workflow bundle');
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  // A devDependency is in the image only where a runtime dependency needs it too (viem peers on
  // typescript, protobufjs depends on @types/node); nothing loads them (see the next test).
  for (const dev of Object.keys(pkg.devDependencies)) {
    if (!existsSync(path.join(image.appDir, 'node_modules', dev))) continue;
    const why = execFileSync('npm', ['ls', dev, '--omit=dev', '--parseable'], { cwd: image.appDir, encoding: 'utf8' }).trim();
    assert.ok(why.length > 0, `devDependency ${dev} is installed though no runtime dependency needs it`);
  }
  assert.ok(!existsSync(path.join(image.appDir, 'node_modules', 'solc')), 'solc (tests only) is not installed');
});

test('the image\'s worker indexes a chain to its end, rows equal to the chain, with no compiler or bundler at run time', { timeout: 300_000 }, async () => {
  const name = uniqueName('shipped');
  const metricsPort = await freePort();
  const env = indexerEnv(t.stack, name, t.chain);
  const config = path.join(dir, 'indexer.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      name,
      chains: { local: { id: t.chain.chainId, maxBlockRange: 100, maxInFlight: 4, pollIntervalMs: 200 } },
      contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi, startBlock: 0, endBlock: Number(head) }],
    }),
  );

  // Without DATABASE_URL the image's worker refuses in one line (no private embedded database).
  const refused = await runToEnd([...image.cmd], { TEMPORAL_ADDRESS: t.stack.temporal.address });
  assert.notEqual(refused.code, 0);
  assert.match(refused.output.trim(), /^error: DATABASE_URL is not set: indexer worker needs/);

  // `indexer start` from the image first, so the worker's first activity is waiting for it.
  const start = await runToEnd(['start', '--config', config], env);
  assert.equal(start.code, 0, start.output);
  assert.match(start.output, new RegExp(`started ${indexerWorkflowId(name, t.chain.chainId)}`));

  const tracer = moduleTracer();
  const spawned = performance.now();
  const worker = run([...image.cmd], {
    ...env,
    ...tracer.env,
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: 'info',
    NODE_OPTIONS: `${image.env.NODE_OPTIONS ?? ''} ${tracer.nodeOptions}`.trim(),
  });
  const firstActivityMs = await eventually(
    'the worker\'s first activity',
    async () => {
      if (worker.child.exitCode !== null) throw new Error(`the worker exited ${worker.child.exitCode}: ${worker.output()}`);
      return /"msg":"indexer prepared"/.test(worker.output()) ? performance.now() - spawned : undefined;
    },
    120_000,
    50,
  );

  const handle = t.stack.client.workflow.getHandle(indexerWorkflowId(name, t.chain.chainId));
  const result = (await handle.result()) as { checkpoint: number };
  assert.equal(result.checkpoint, Number(head), 'indexed to the endBlock');
  const rows = await assertMatchesChain(t.stack.db, t.chain.publicClient, { schema: name, abi: emitter.abi, address, chainId: t.chain.chainId, toBlock: head, tables: EMITTER_TABLES });
  assert.equal(rows.rows, totalLogs);

  // The CLI from the image, against the same services.
  const status = await runToEnd(['status', name, '--json'], env);
  assert.equal(status.code, 0, status.output);
  assert.equal((JSON.parse(status.output) as IndexerStatus).mode, 'done');
  const list = await runToEnd(['list'], env);
  assert.equal(list.code, 0, list.output);
  assert.match(list.output, new RegExp(`${indexerWorkflowId(name, t.chain.chainId)}\\s+completed`));

  worker.child.kill('SIGTERM');
  assert.equal(await worker.exited, 0, worker.output().slice(-2000));

  // Nothing compiled at run time: no TypeScript loader or compiler, and webpack never beyond the
  // lazy index the SDK's bundler module resolves on import (its compiler never loads).
  const loaded = tracer.loaded();
  assert.ok(loaded.some((m) => m.includes('/dist/indexer.js')), 'the compiled CLI ran');
  const compilers = loaded.filter((m) => /node_modules\/(tsx|typescript|esbuild|@esbuild|@swc|swc-loader)\//.test(m) || /node_modules\/webpack\/lib\/(webpack|Compiler)\.js/.test(m));
  assert.deepEqual([...new Set(compilers)], [], 'modules that compile code were loaded at run time');

  console.log(`image worker: spawn to first activity ${firstActivityMs.toFixed(0)} ms; indexer status ${status.ms.toFixed(0)} ms; indexer list ${list.ms.toFixed(0)} ms; ${rows.rows} rows equal to the chain`);
});
