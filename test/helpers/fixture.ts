import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { IndexerSpec } from '../../src/spec';
import type { IndexerStatus } from '../../src/workflows/messages';
import { startTestChain, type TestChain } from './chain';
import { specsFrom, startIndexer, status, waitForCheckpoint } from './indexer';
import { startStack, uniqueName, type StackOptions, type TestStack } from './stack';
import { spawnWorkerProcess, startInProcessWorker, type RunningWorker, type WorkerProcess } from './workers';

export interface E2eOptions {
  /** anvil options for the file's chain (none when `chain: false`). */
  chain?: Parameters<typeof startTestChain>[0] | false;
  stack?: StackOptions;
  /**
   * The file's own preparation (deploying contracts, emitting events), run once the stack and the
   * chain are up and before any test. Not a second top-level before(): under Node 20 that one
   * started while this one was still starting the stack (seen: "no chain … before() has not run").
   */
  setup?: (fixture: E2e) => Promise<unknown>;
}

/** What an end-to-end test file shares: the stack, its chain, and cleanups run after the file. */
export interface E2e {
  readonly stack: TestStack;
  readonly chain: TestChain;
  /** Runs `cleanup` after the file (newest first), whatever happened. */
  defer: (cleanup: () => Promise<unknown> | unknown) => void;
  /** `indexer worker` as a process with `env`, stopped after the file with `signal` (default SIGKILL) and waited for. */
  workerProcess: (env: NodeJS.ProcessEnv, signal?: NodeJS.Signals) => WorkerProcess;
  /** An indexer of the file's chain with a unique name (its schema and task queue), started, cleaned up after the file. */
  indexer: (options: IndexerOptions) => Promise<TestIndexer>;
}

export interface IndexerOptions {
  /** Becomes part of the unique name. */
  title: string;
  /** The config, given the indexer's unique name. */
  config: (name: string) => Record<string, unknown>;
  /** Who runs the activities: a worker in this process (default), an `indexer worker` process, or nobody yet. */
  worker?: 'in-process' | 'process' | 'none';
  /** The chain to index (default: the file's chain), for files that start a chain per test. */
  chain?: TestChain;
  /** RPC endpoints the worker uses for the chain (default: the chain itself). */
  rpc?: string[];
  /** Start the workflow (default true). */
  start?: boolean;
  /** NATS servers for the worker (NATS_URL); the worker's default (127.0.0.1:4222) when unset. */
  natsUrl?: string;
}

export interface TestIndexer {
  name: string;
  spec: IndexerSpec;
  /** The config written to a file, for CLI commands. */
  configPath: string;
  /** What the CLI and `indexer worker` need: Temporal, task queue, database, RPC. */
  env: NodeJS.ProcessEnv;
  handle: WorkflowHandle;
  worker?: RunningWorker | WorkerProcess;
  status: () => Promise<IndexerStatus>;
  waitForCheckpoint: (block: bigint | number, timeoutMs?: number) => Promise<IndexerStatus>;
  /** Terminates the workflow and stops its worker now (they would be after the file anyway), so tests do not load each other. */
  close: () => Promise<void>;
}

/** What the CLI and `indexer worker` need for an indexer on `taskQueue`: Temporal, task queue, database and (given a chain) its RPC. */
export function indexerEnv(stack: TestStack, taskQueue: string, chain?: TestChain, rpc: string[] = chain ? [chain.url] : []): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: stack.temporal.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    DATABASE_URL: stack.databaseUrl,
    ...(chain ? { [`RPC_URL_${chain.chainId}`]: rpc.join(',') } : {}),
  };
}

/**
 * The setup every end-to-end test file repeats, once: a real Temporal dev server and PostgreSQL
 * (startStack) and a real anvil, started before the file's tests and stopped after them together
 * with everything the tests registered. Call at the top level of the test file.
 */
export function e2e(options: E2eOptions = {}): E2e {
  let stack: TestStack | undefined;
  let chain: TestChain | undefined;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const defer = (cleanup: () => Promise<unknown> | unknown) => void cleanups.push(cleanup);

  before(async () => {
    [stack, chain] = await Promise.all([startStack(options.stack), options.chain === false ? undefined : startTestChain(options.chain)]);
    await options.setup?.(fixture);
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch(() => undefined);
    await chain?.stop();
    // pool.end() resolves before its sockets close; a server stopping right after must not crash the file.
    stack?.db.on('error', () => undefined);
    await stack?.stop();
  });

  const fixture: E2e = {
    get stack() {
      if (!stack) throw new Error('the stack starts in before(): use it inside a test');
      return stack;
    },
    get chain() {
      if (!chain) throw new Error('no chain: e2e({ chain: false }) or before() has not run');
      return chain;
    },
    defer,
    workerProcess: (env, signal = 'SIGKILL') => {
      const w = spawnWorkerProcess(env);
      defer(async () => {
        w.child.kill(signal);
        await w.exited;
      });
      return w;
    },
    indexer: async (o) => {
      const name = uniqueName(o.title);
      const config = o.config(name);
      const [spec] = specsFrom(config);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-e2e-'));
      const configPath = path.join(dir, 'indexer.config.json');
      writeFileSync(configPath, JSON.stringify(config));
      const chain = o.chain ?? fixture.chain;
      const rpc = o.rpc ?? [chain.url];
      const own: Array<() => Promise<unknown> | unknown> = [];
      const close = async () => {
        for (const cleanup of own.splice(0).reverse()) await Promise.resolve().then(cleanup).catch(() => undefined);
      };
      defer(close);
      const env: NodeJS.ProcessEnv = { ...indexerEnv(fixture.stack, name, chain, rpc), ...(o.natsUrl ? { NATS_URL: o.natsUrl } : {}) };
      let worker: RunningWorker | WorkerProcess | undefined;
      if ((o.worker ?? 'in-process') === 'in-process') {
        const w = await startInProcessWorker(fixture.stack, { taskQueue: name, rpc: { [chain.chainId]: rpc }, natsUrl: o.natsUrl });
        own.push(() => w.stop());
        worker = w;
      } else if (o.worker === 'process') {
        const w = spawnWorkerProcess(env);
        own.push(async () => {
          w.child.kill('SIGKILL');
          await w.exited;
        });
        worker = w;
      }
      const handle = o.start === false ? fixture.stack.client.workflow.getHandle(`indexer:${name}:${spec!.chainId}`) : await startIndexer(fixture.stack.client, spec!, name);
      own.push(() => handle.terminate().catch(() => undefined));
      return {
        close,
        name,
        spec: spec!,
        configPath,
        env,
        handle,
        worker,
        status: () => status(fixture.stack.client, spec!),
        waitForCheckpoint: (block, timeoutMs) => waitForCheckpoint(fixture.stack.client, spec!, block, timeoutMs),
      };
    },
  };
  return fixture;
}
