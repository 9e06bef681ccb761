import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type InjectedSinks, type WorkerInterceptors, type WorkflowBundleOption } from '@temporalio/worker';
import type { ActivityHost } from './worker/activity-host';
import { deferredActivities } from './activities/deferred';
import { bundleWorkflowsInChildProcess, prebuiltWorkflowBundle } from './worker/workflow-bundle';
import type { Pool } from './db/pool';
import type { Logger } from './logger';
import type { IndexerMetrics } from './worker/metrics';
import { Redactor } from './redact';
import type { RpcUrlSource } from './rpc/endpoints';
import { DEFAULT_NATS_URL, parseNatsUrl } from './stages/stream/nats-url';
import type { Tracing } from './tracing';

export const WORKFLOWS_PATH = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

/**
 * What the activities run on that the worker's config decides: the database, the RPC and NATS
 * endpoints, the metrics. `indexer worker` reads and checks the config while Worker.create boots
 * the workflow thread (bootIndexerWorker), so these can come later than the rest.
 */
export interface WorkerHostSettings {
  databaseUrl: string;
  rpcUrls: RpcUrlSource;
  /** Every RPC URL the worker may use, so all of them are redacted wherever they might surface. */
  knownRpcUrls: string[];
  /** Where the stream stage publishes (NATS_URL or the worker config's stream.nats.url); the local default when unset. */
  natsUrl?: string;
  metrics?: IndexerMetrics;
}

/** What Worker.create needs, all known from the environment: Temporal, the task queue, tuning, tracing. */
export interface WorkerBootSettings {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  logger: Logger;
  /** A bundle built by the caller (tests); else the compiled CLI's prebuilt one, else bundled from source. */
  workflowBundle?: WorkflowBundleOption;
  /** OpenTelemetry (src/tracing.ts); off when unset. */
  tracing?: Tracing;
  maxConcurrentActivityTaskExecutions?: number;
  maxTaskQueueActivitiesPerSecond?: number;
  maxCachedWorkflows?: number;
  shutdownGraceTime?: string;
  /** Collect the heap once it passes this many MB (heap-bound.ts, checked every 100 ms); unset or 0: never. */
  heapBoundMb?: number;
}

export type WorkerSettings = WorkerBootSettings & WorkerHostSettings;

export interface IndexerWorker {
  worker: Worker;
  /** The worker's Temporal connection; a Client can share it. */
  connection: NativeConnection;
  pool: Pool;
  redactor: Redactor;
  /** Runs until shutdown, then closes the database pool and the Temporal connection. */
  run: () => Promise<void>;
  shutdown: () => void;
}

export function secretRedactor(databaseUrl: string, rpcUrls: string[], natsUrls: string[] = []): Redactor {
  const redactor = new Redactor();
  for (const url of [...rpcUrls, ...natsUrls]) redactor.addUrl(url);
  redactor.addUrl(databaseUrl);
  return redactor;
}

/** A worker hosting the indexer's workflows and activities, wired to real RPC and PostgreSQL. */
export function createIndexerWorker(settings: WorkerSettings): Promise<IndexerWorker> {
  return bootIndexerWorker(settings, async () => settings);
}

/**
 * A worker whose host settings are asked for once its workflow thread is spawned.
 *
 * Start-up is the workflow thread's boot (Worker.create) and the loading of the activity host
 * (pg, NATS, the activity code) side by side, on the two cores a small machine has, rather than
 * one after the other: the host loads on the main thread once the workflow thread is spawned, and
 * the activities Worker.create registers call into the host once it is up. `hostSettings` is called
 * then too (or when Worker.create fails before a thread was spawned), so whatever it reads, checks
 * and loads fills the same wait. The returned promise rejects with its error when it fails.
 */
export async function bootIndexerWorker(settings: WorkerBootSettings, hostSettings: () => Promise<WorkerHostSettings>): Promise<IndexerWorker> {
  // The host loads once Worker.create has spawned the workflow thread: loading it first held the
  // spawn back by the host's own load time (about a quarter of a second) on the main thread.
  const threadSpawn = nextThreadSpawn();
  const hosting = threadSpawn.spawned
    // The module loads while hostSettings() waits on its own I/O (an RPC check, a database).
    .then(() => Promise.all([hostSettings(), import('./worker/activity-host')]))
    .then(([fromHost, { startActivityHost }]) => {
      const nats = parseNatsUrl(fromHost.natsUrl ?? DEFAULT_NATS_URL, 'NATS_URL');
      const redactor = secretRedactor(fromHost.databaseUrl, fromHost.knownRpcUrls, nats.raw);
      // A bare token (nats://TOKEN@host) is the URL's user name, which addUrl leaves alone.
      if (nats.token) redactor.add(nats.token);
      return { redactor, host: startActivityHost({ ...settings, ...fromHost, nats, redactor }) };
    });
  // Its failure surfaces where it is awaited, below; until then it must not count as unhandled.
  hosting.catch(() => undefined);
  // Whatever fails below, the host is closed once it is up (it loads now if no thread was spawned).
  const closeHost = () => {
    threadSpawn.release();
    return hosting.then(({ host: up }) => up.close()).catch(() => undefined);
  };
  let connection: NativeConnection;
  let worker: Worker;
  try {
    connection = await NativeConnection.connect({ address: settings.temporalAddress });
  } catch (error) {
    await closeHost();
    throw error;
  }
  try {
    const { interceptors, sinks } = await tracingOptions(settings.tracing);
    worker = await Worker.create({
      connection,
      interceptors,
      sinks,
      namespace: settings.namespace,
      taskQueue: settings.taskQueue,
      activities: deferredActivities(hosting.then(({ host: up }) => up.activities)),
      workflowBundle: settings.workflowBundle ?? prebuiltWorkflowBundle() ?? (await bundleWorkflowsInChildProcess(WORKFLOWS_PATH)),
      maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivityTaskExecutions ?? 16,
      maxTaskQueueActivitiesPerSecond: settings.maxTaskQueueActivitiesPerSecond,
      ...(settings.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: settings.maxCachedWorkflows } : {}),
      shutdownGraceTime: settings.shutdownGraceTime ?? '20 seconds',
    });
  } catch (error) {
    await closeHost();
    await connection.close().catch(() => undefined);
    throw error;
  }
  threadSpawn.release(); // a thread pool that was already up (or none at all) emits no spawn
  let host: ActivityHost;
  let redactor: Redactor;
  try {
    ({ host, redactor } = await hosting);
  } catch (error) {
    // A worker that never ran still holds its thread and connection: run it down, then report.
    await worker.runUntil(Promise.resolve()).catch(() => undefined);
    await connection.close().catch(() => undefined);
    throw error;
  }
  return {
    worker,
    connection,
    pool: host.pool,
    redactor,
    shutdown: () => worker.shutdown(),
    run: async () => {
      try {
        await worker.run();
      } finally {
        await host.close();
        await connection.close().catch(() => undefined);
      }
    },
  };
}

/**
 * Resolves when this process next spawns a worker thread (Node's 'worker' event), or when
 * released, whichever comes first; the listener goes with it.
 */
function nextThreadSpawn(): { spawned: Promise<void>; release: () => void } {
  let release!: () => void;
  const spawned = new Promise<void>((resolve) => {
    release = () => {
      process.removeListener('worker', release);
      resolve();
    };
    process.once('worker', release);
  });
  return { spawned, release };
}

/**
 * The Temporal SDK's OpenTelemetry interceptors for activities and the sink that carries workflow
 * spans out of the sandbox. The workflow interceptors are in every bundle (workflow-bundle.ts), so
 * the sink is registered even with tracing off, as a no-op: an unregistered sink is an error per call.
 */
export async function tracingOptions(tracing: Tracing | undefined): Promise<{ interceptors?: WorkerInterceptors; sinks: InjectedSinks<Record<string, never>> }> {
  if (!tracing) {
    return { sinks: { exporter: { export: { fn: () => undefined, callDuringReplay: false } } } as never };
  }
  const otel = await import('@temporalio/interceptors-opentelemetry');
  return {
    interceptors: {
      activity: [(ctx) => ({ inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx), outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx) })],
    },
    sinks: { exporter: otel.makeWorkflowExporter(tracing.spanProcessor, tracing.resource) } as never,
  };
}
