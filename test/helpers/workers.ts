import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installTemporalRuntime } from '../../src/cli/worker-command';
import { createLogger } from '../../src/logger';
import { createIndexerWorker, type IndexerWorker } from '../../src/worker';
import type { Tracing } from '../../src/tracing';
import type { TestStack } from './stack';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const INDEXER_BIN = path.join(REPO_ROOT, 'bin', 'indexer.mjs');

export interface RunningWorker {
  worker: IndexerWorker;
  /** Shuts the worker down and waits for it; calling it again waits for the same shutdown. */
  stop: () => Promise<void>;
}

/** A real worker in this process, on the test's own task queue. */
export async function startInProcessWorker(
  stack: TestStack,
  options: { taskQueue: string; rpc: Record<number, string[]>; databaseUrl?: string; tracing?: Tracing; natsUrl?: string },
): Promise<RunningWorker> {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', pretty: false, destination: process.stderr });
  installTemporalRuntime(logger);
  const worker = await createIndexerWorker({
    temporalAddress: stack.temporal.address,
    namespace: 'default',
    taskQueue: options.taskQueue,
    databaseUrl: options.databaseUrl ?? stack.databaseUrl,
    rpcUrls: (chainId) => options.rpc[chainId],
    knownRpcUrls: Object.values(options.rpc).flat(),
    natsUrl: options.natsUrl,
    logger,
    workflowBundle: stack.bundle,
    tracing: options.tracing,
  });
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    worker,
    // Once: a test may stop its worker early and the cleanup after the file stops it again.
    stop: () => (stopped ??= (worker.shutdown(), running)),
  };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The `indexer` command exactly as a user runs it, with the given environment. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [INDEXER_BIN, ...args], { env: { ...process.env, ...env }, cwd: options.cwd ?? REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`indexer ${args.join(' ')} did not finish in time; stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves when the process exits. */
  exited: Promise<number | null>;
}

/** `indexer worker` as a separate process (to be killed, signalled, or have its logs read). */
export function spawnWorkerProcess(env: NodeJS.ProcessEnv, args: string[] = []): WorkerProcess {
  const child = spawn(process.execPath, [INDEXER_BIN, 'worker', ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, cwd: REPO_ROOT });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  process.once('exit', () => child.kill('SIGKILL'));
  return { child, output: () => output, exited };
}

/** Polls until `check` returns a value (not undefined), or fails after timeoutMs with `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Non-zero exit, and stderr is one line `error: …` matching `expected`. */
export function assertOneLineError(run: CliRun, expected: RegExp, what: string): string {
  const shown = `${what}: exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  assert.notEqual(run.code, 0, `${shown}\n(expected a non-zero exit)`);
  assert.ok(run.stderr.endsWith('\n'), `${shown}\n(expected stderr to end with a newline)`);
  const lines = run.stderr.slice(0, -1).split('\n');
  assert.equal(lines.length, 1, `${shown}\n(expected exactly one line on stderr)`);
  const line = lines[0]!;
  assert.match(line, /^error: \S/, shown);
  assert.match(line, expected, shown);
  return line;
}
