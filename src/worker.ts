import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type InjectedSinks, type WorkerInterceptors, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from './activities';
import { bundleWorkflowsInChildProcess, prebuiltWorkflowBundle } from './workflow-bundle';
import { createPool, type Pool } from './db/pool';
import { HeapBound } from './heap-bound';
import type { Logger } from './logger';
import type { IndexerMetrics } from './metrics';
import { Redactor } from './redact';
import { ChainRpc } from './rpc/client';
import { requireRpcUrls, type RpcUrlSource } from './rpc/endpoints';
import type { IndexerSpec } from './spec';
import { NatsLinks } from './stream/connection';
import { DEFAULT_NATS_URL, parseNatsUrl } from './stream/nats-url';
import type { Tracing } from './tracing';

export const WORKFLOWS_PATH = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

export interface WorkerSettings {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  databaseUrl: string;
  rpcUrls: RpcUrlSource;
  /** Every RPC URL the worker may use, so all of them are redacted wherever they might surface. */
  knownRpcUrls: string[];
  /** Where the stream stage publishes (NATS_URL or the worker config's stream.nats.url); the local default when unset. */
  natsUrl?: string;
  logger: Logger;
  /** A bundle built by the caller (tests); else the compiled CLI's prebuilt one, else bundled from source. */
  workflowBundle?: WorkflowBundleOption;
  metrics?: IndexerMetrics;
  /** OpenTelemetry (src/tracing.ts); off when unset. */
  tracing?: Tracing;
  maxConcurrentActivityTaskExecutions?: number;
  maxTaskQueueActivitiesPerSecond?: number;
  maxCachedWorkflows?: number;
  shutdownGraceTime?: string;
  /** Collect the heap after an activity once it passes this many MB (heap-bound.ts); unset or 0: never. */
  heapBoundMb?: number;
}

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
export async function createIndexerWorker(settings: WorkerSettings): Promise<IndexerWorker> {
  const nats = parseNatsUrl(settings.natsUrl ?? DEFAULT_NATS_URL, 'NATS_URL');
  const redactor = secretRedactor(settings.databaseUrl, settings.knownRpcUrls, nats.raw);
  // A bare token (nats://TOKEN@host) is the URL's user name, which addUrl leaves alone.
  if (nats.token) redactor.add(nats.token);
  const natsLinks = new NatsLinks(nats);
  const pool = createPool(settings.databaseUrl);
  // One handlers batch at a time per indexer; connections open as indexers need them.
  const handlersPool = createPool(settings.databaseUrl, 10, { pipeline: true });
  const rpcs = new Map<number, ChainRpc>();
  // One ChainRpc per chain for the worker's life, so breakers, limits, heads and latency stats
  // persist; each activity gets its own view of it (its notices, its indexer's crossCheck).
  const rpcFor = (spec: Pick<IndexerSpec, 'chainId' | 'tuning'>) => {
    let rpc = rpcs.get(spec.chainId);
    if (!rpc) {
      const urls = requireRpcUrls(settings.rpcUrls, spec.chainId);
      for (const url of urls) redactor.addUrl(url);
      rpc = new ChainRpc(spec.chainId, urls, { timeoutMs: spec.tuning.rpcTimeoutMs, requestsPerSecond: spec.tuning.rpcRequestsPerSecond });
      rpcs.set(spec.chainId, rpc);
    }
    return rpc.session({ crossCheck: spec.tuning.crossCheck });
  };
  settings.metrics?.watchEndpoints(() => [...rpcs.values()].map((rpc) => ({ chainId: rpc.chainId, endpoints: rpc.health(), checks: rpc.checkStats() })));
  const heap = settings.heapBoundMb ? new HeapBound(settings.heapBoundMb * 1024 * 1024) : undefined;
  const activities = createActivities({
    pool,
    handlersPool,
    rpcFor,
    logger: settings.logger,
    redact: (t) => redactor.redact(t),
    metrics: settings.metrics,
    natsFor: (spec) => natsLinks.get(spec),
    afterActivity: heap && (() => heap.check()),
  });
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: settings.temporalAddress });
  } catch (error) {
    await natsLinks.close();
    await Promise.all([pool.end(), handlersPool.end()]).catch(() => undefined);
    throw error;
  }
  const { interceptors, sinks } = await tracingOptions(settings.tracing);
  const worker = await Worker.create({
    connection,
    interceptors,
    sinks,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    activities,
    workflowBundle: settings.workflowBundle ?? prebuiltWorkflowBundle() ?? (await bundleWorkflowsInChildProcess(WORKFLOWS_PATH)),
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivityTaskExecutions ?? 16,
    maxTaskQueueActivitiesPerSecond: settings.maxTaskQueueActivitiesPerSecond,
    ...(settings.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: settings.maxCachedWorkflows } : {}),
    shutdownGraceTime: settings.shutdownGraceTime ?? '20 seconds',
  });
  return {
    worker,
    connection,
    pool,
    redactor,
    shutdown: () => worker.shutdown(),
    run: async () => {
      try {
        await worker.run();
      } finally {
        await natsLinks.close();
        await Promise.all([pool.end(), handlersPool.end()]).catch(() => undefined);
        await connection.close().catch(() => undefined);
        for (const rpc of rpcs.values()) await rpc.close().catch(() => undefined);
      }
    },
  };
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
