/**
 * `npm run bench:startup`: worker start-up to its first activity, from source (tsx; workflows
 * bundled with webpack when the worker starts, as before `npm run build` existed) and compiled
 * (dist/ with the prebuilt workflow bundle, what the image runs). Each run starts an indexer
 * first, then spawns `indexer worker` and times spawn → the first activity's log line.
 * A third row is the Temporal SDK's own floor on the same machine: a worker with one trivial
 * workflow and activity and nothing of ours (bench/sdk-floor/), timed the same way, so what the
 * compiled worker adds to what any TypeScript worker pays is the difference of the two rows.
 *
 *   node --import tsx bench/startup.ts [--runs 3]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { quietBundlerLogger } from '../src/worker/workflow-bundle';
import { startTestChain } from '../test/helpers/chain';
import { specsFrom, startIndexer } from '../test/helpers/indexer';
import { compileFixture } from '../test/helpers/solidity';
import { startStack, uniqueName } from '../test/helpers/stack';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  // --node-args: flags for the worker's node that NODE_OPTIONS refuses, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  options: { runs: { type: 'string', default: '3' }, 'node-args': { type: 'string', default: '' } },
});
const say = (line: string) => process.stdout.write(`${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

say('building dist/ …');
execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
const cache = path.join(ROOT, 'bench', '.cache');
mkdirSync(cache, { recursive: true });
const fromSource = path.join(cache, 'indexer-from-source.mjs');
writeFileSync(fromSource, `import { register } from 'tsx/esm/api';\nregister();\nconst { main } = await import(${JSON.stringify(path.join(ROOT, 'src', 'client.ts'))});\nawait main();\n`);
const floorBundle = path.join(cache, 'sdk-floor-workflows.js');
writeFileSync(floorBundle, (await bundleWorkflowCode({ workflowsPath: path.join(ROOT, 'bench', 'sdk-floor', 'workflows.ts'), logger: quietBundlerLogger })).code);

/** One way of starting a worker: what to spawn, the workflow it is to run, and its first activity's log line. */
interface Variant {
  label: string;
  args: string[];
  /** Starts the workflow on this task queue; returns how to end it. */
  startWorkflow: (client: Client, taskQueue: string) => Promise<() => Promise<unknown>>;
  firstActivityLine: string;
}

const [stack, chain] = await Promise.all([startStack(), startTestChain()]);
try {
  const emitter = compileFixture('Emitter');
  const address = await chain.deploy(emitter.abi, emitter.bytecode);
  await chain.send(address, emitter.abi, 'emitMany', [5n, 1n]);
  const startIndexerOn = async (client: Client, name: string) => {
    const [spec] = specsFrom({ name, chains: { local: { id: chain.chainId } }, contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }] });
    const handle = await startIndexer(client, spec!, name);
    return () => handle.terminate('bench over');
  };
  const variants: Variant[] = [
    { label: 'from source (tsx, webpack bundle at start)', args: [fromSource, 'worker'], startWorkflow: startIndexerOn, firstActivityLine: '"msg":"indexer prepared"' },
    { label: 'compiled (dist/, prebuilt bundle)', args: [path.join(ROOT, 'bin', 'indexer.mjs'), 'worker'], startWorkflow: startIndexerOn, firstActivityLine: '"msg":"indexer prepared"' },
    {
      label: 'Temporal SDK alone (one trivial workflow and activity, prebuilt bundle)',
      args: [path.join(ROOT, 'bench', 'sdk-floor', 'worker.mjs'), floorBundle],
      startWorkflow: async (client, taskQueue) => {
        const handle = await client.workflow.start('floorWorkflow', { taskQueue, workflowId: taskQueue });
        return () => handle.terminate('bench over');
      },
      firstActivityLine: '"msg":"first activity"',
    },
  ];
  // Runs alternate between the variants, so a machine whose speed drifts over minutes weighs on each alike.
  const measured = new Map(variants.map((variant) => [variant, { times: [] as number[], ready: [] as number[], peakRss: 0 }]));
  for (let i = 0; i < Number(flags.runs); i++) {
    for (const variant of variants) {
      const figures = measured.get(variant)!;
      const name = uniqueName('startup');
      const endWorkflow = await variant.startWorkflow(stack.client, name);
      const env = {
        ...process.env,
        NODE_OPTIONS: '--max-old-space-size=256 --max-semi-space-size=8',
        TEMPORAL_ADDRESS: stack.temporal.address,
        TEMPORAL_TASK_QUEUE: name,
        DATABASE_URL: stack.databaseUrl,
        [`RPC_URL_${chain.chainId}`]: chain.url,
        LOG_LEVEL: 'info',
      };
      const t0 = performance.now();
      const worker = spawn(process.execPath, [...flags['node-args'].split(' ').filter(Boolean), ...variant.args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const ms = await new Promise<number>((resolve, reject) => {
        let out = '';
        let started = false;
        const onData = (c: Buffer) => {
          out += c;
          if (!started && out.includes('"msg":"worker started"')) {
            started = true;
            figures.ready.push(performance.now() - t0);
          }
          if (out.includes(variant.firstActivityLine)) resolve(performance.now() - t0);
        };
        worker.stdout.on('data', onData);
        worker.stderr.on('data', onData);
        worker.once('exit', (code) => reject(new Error(`worker exited ${code}: ${out.slice(-1000)}`)));
      });
      figures.times.push(ms);
      try {
        const rss = Number(/VmHWM:\s+(\d+)/.exec(execFileSync('cat', [`/proc/${worker.pid}/status`]).toString())?.[1] ?? 0) / 1024;
        figures.peakRss = Math.max(figures.peakRss, rss);
      } catch {
        // the process is gone
      }
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
      await endWorkflow().catch(() => undefined);
    }
  }
  const results = [...measured].map(
    ([variant, { times, ready, peakRss }]) =>
      `| ${variant.label} | ${median(ready).toFixed(0)} ms | ${median(times).toFixed(0)} ms | ${times.map((t) => t.toFixed(0)).join(', ')} ms | ${peakRss.toFixed(0)} MB |`,
  );
  say(`\nworker spawn → first activity (${flags.runs} runs each; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)} on ${(await import('node:os')).cpus().length} cores):`);
  say('| worker | to "worker started" (median) | to first activity (median) | runs | peak RSS at first activity |\n|---|---|---|---|---|');
  results.forEach(say);
} finally {
  await chain.stop();
  await stack.stop();
}
