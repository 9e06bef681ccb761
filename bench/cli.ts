/**
 * `npm run bench:cli`: how long `indexer status` and `indexer list` take, compiled (dist/, what the
 * image runs) and from source (tsx), in a namespace that holds hundreds of closed indexers whose
 * worker is gone, a few running ones that no worker serves, and one live indexer.
 *
 *   node --import tsx bench/cli.ts [--closed 300] [--orphaned 3] [--runs 5]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createAbandonedIndexers } from '../test/helpers/abandoned';
import { startTestChain } from '../test/helpers/chain';
import { specsFrom, startIndexer, waitForCheckpoint } from '../test/helpers/indexer';
import { compileFixture } from '../test/helpers/solidity';
import { startStack, uniqueName } from '../test/helpers/stack';
import { startInProcessWorker } from '../test/helpers/workers';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: { closed: { type: 'string', default: '300' }, orphaned: { type: 'string', default: '3' }, runs: { type: 'string', default: '5' } },
});
const say = (line: string) => process.stdout.write(`${line}\n`);
const cache = path.join(ROOT, 'bench', '.cache');
mkdirSync(cache, { recursive: true });

/**
 * Wall time of one CLI run, start to exit, and its CPU time (user + system, from /usr/bin/time):
 * on a machine busy with other work the wall time stretches, the CPU time much less.
 */
function timeRun(argv: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; cpuMs: number; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const usage = path.join(cache, `time-${process.pid}.txt`);
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', usage, process.execPath, ...argv], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      const [user, sys] = readFileSync(usage, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
      resolve({ ms, cpuMs: ((user ?? 0) + (sys ?? 0)) * 1000, code, stderr });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

say('building dist/ …');
execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
// The source path exactly as bin/indexer.mjs takes it when dist/ is stale.
const fromSource = path.join(cache, 'indexer-from-source.mjs');
writeFileSync(fromSource, `import { register } from 'tsx/esm/api';\nregister();\nconst { main } = await import(${JSON.stringify(path.join(ROOT, 'src', 'client.ts'))});\nawait main();\n`);

const [stack, chain] = await Promise.all([startStack(), startTestChain()]);
try {
  const emitter = compileFixture('Emitter');
  const prefix = uniqueName('bench cli');
  const specFor = (name: string, address = '0x5fbdb2315678afecb367f032d93f642f64180aa3') =>
    specsFrom({ name, chains: { local: { id: chain.chainId, pollIntervalMs: 500 } }, contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }] })[0]!;
  say(`creating ${flags.closed} closed and ${flags.orphaned} orphaned indexers …`);
  await createAbandonedIndexers({ client: stack.client, temporalAddress: stack.temporal.address, bundle: stack.bundle, prefix, closed: Number(flags.closed), orphaned: Number(flags.orphaned), spec: (n) => specFor(n) });
  const address = await chain.deploy(emitter.abi, emitter.bytecode);
  await chain.send(address, emitter.abi, 'emitMany', [5n, 1n]);
  const live = `${prefix}_live`;
  const worker = await startInProcessWorker(stack, { taskQueue: `${prefix}_q`, rpc: { [chain.chainId]: [chain.url] } });
  const spec = specFor(live, address);
  await startIndexer(stack.client, spec, `${prefix}_q`);
  await waitForCheckpoint(stack.client, spec, await chain.publicClient.getBlockNumber());
  await new Promise((r) => setTimeout(r, 2_000)); // visibility catches up

  const env = { TEMPORAL_ADDRESS: stack.temporal.address, DATABASE_URL: stack.databaseUrl };
  const runs = Number(flags.runs);
  const rows: string[] = [];
  for (const [label, entry] of [
    ['compiled (dist/)', path.join(ROOT, 'dist', 'indexer.js')],
    ['from source (tsx)', fromSource],
  ] as const) {
    const bin = label.startsWith('compiled') ? [path.join(ROOT, 'bin', 'indexer.mjs')] : [entry];
    for (const args of [['--help'], ['status', live], ['list']]) {
      const times: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await timeRun([...bin, ...args], env);
        if (r.code !== 0) throw new Error(`indexer ${args.join(' ')} failed: ${r.stderr}`);
        times.push(r.ms);
        cpu.push(r.cpuMs);
      }
      rows.push(`| ${label} | indexer ${args.join(' ')} | ${median(times).toFixed(0)} ms | ${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)} ms | ${median(cpu).toFixed(0)} ms |`);
    }
  }
  say(`\n${Number(flags.closed) + Number(flags.orphaned) + 1} indexers (${flags.closed} closed, ${flags.orphaned} without a worker, 1 live), ${runs} runs each, wall time from spawn to exit:`);
  say(`load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
  say('| CLI | command | wall median | wall range | CPU (user+sys) median |\n|---|---|---|---|---|');
  rows.forEach(say);
  await worker.stop();
  for await (const wf of stack.client.workflow.list({ query: `ExecutionStatus = 'Running'` })) await stack.client.workflow.getHandle(wf.workflowId).terminate('bench over').catch(() => undefined);
} finally {
  await chain.stop();
  await stack.stop();
}
