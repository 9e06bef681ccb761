import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { WorkflowBundle } from '@temporalio/worker';
import { startIndexers } from '../../src/cli/start-command';
import { indexerWorkflowId, type IndexerSpec } from '../../src/spec';
import { REPO_ROOT, eventually } from './workers';

export interface AbandonedIndexers {
  /** Terminated: closed runs with history, whose worker is gone. */
  closed: string[];
  /** Still running, but their worker is gone. */
  orphaned: string[];
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

/**
 * Indexers started the way `indexer start` does (search attributes, memo) and run by a worker
 * process (workflow code only: their first activity never runs) that is then SIGKILLed, as a
 * crashed or deleted worker is; `closed` of them are terminated. A status query to any of them
 * now waits for a worker that never comes.
 */
export async function createAbandonedIndexers(options: {
  client: Client;
  temporalAddress: string;
  bundle: WorkflowBundle;
  prefix: string;
  closed: number;
  orphaned: number;
  spec: (name: string) => IndexerSpec;
}): Promise<AbandonedIndexers> {
  const { client, prefix } = options;
  const taskQueue = `${prefix}_gone`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-abandoned-'));
  const codePath = path.join(dir, 'workflows.js');
  writeFileSync(codePath, options.bundle.code);
  const scriptPath = path.join(dir, 'worker.mjs');
  writeFileSync(
    scriptPath,
    `
    import { NativeConnection, Worker } from ${JSON.stringify(import.meta.resolve('@temporalio/worker'))};
    import { tracingOptions } from ${JSON.stringify(path.join(REPO_ROOT, 'src', 'worker.ts'))};
    const connection = await NativeConnection.connect({ address: ${JSON.stringify(options.temporalAddress)} });
    const worker = await Worker.create({ connection, taskQueue: ${JSON.stringify(taskQueue)}, workflowBundle: { codePath: ${JSON.stringify(codePath)} }, ...(await tracingOptions(undefined)) });
    await worker.run();
  `,
  );
  const worker = spawn(process.execPath, ['--import', 'tsx', scriptPath], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  worker.stderr!.on('data', (c) => (stderr = (stderr + c).slice(-2000)));
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  try {
    const closed = Array.from({ length: options.closed }, (_, i) => `${prefix}_c${i}`);
    const orphaned = Array.from({ length: options.orphaned }, (_, i) => `${prefix}_o${i}`);
    const specs = [...closed, ...orphaned].map(options.spec);
    await inBatches(specs, 25, (spec) => startIndexers(client, [spec], taskQueue));
    const ids = specs.map((s) => indexerWorkflowId(s.name, s.chainId));
    await eventually(
      "the worker to have run every workflow's first task",
      async () => {
        if (worker.exitCode !== null) throw new Error(`the worker process exited (${worker.exitCode}): ${stderr}`);
        const lengths = await Promise.all(ids.map(async (id) => (await client.workflow.getHandle(id).describe()).historyLength));
        return lengths.every((n) => n >= 5) ? true : undefined; // started, task scheduled/started/completed, activity scheduled
      },
      180_000,
      1_000,
    );
    await inBatches(ids.slice(0, closed.length), 25, (id) => client.workflow.getHandle(id).terminate('done with it'));
    return { closed, orphaned };
  } finally {
    worker.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
