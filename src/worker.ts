import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from './activities';
import { bundleWorkflowsInChildProcess } from './workflow-bundle';
import { InvalidConfigError } from './errors';
import { createPool, type Pool } from './db/pool';
import type { Logger } from './logger';
import type { IndexerMetrics } from './metrics';
import { Redactor } from './redact';
import { ChainRpc } from './rpc/client';
import { requireRpcUrls, type RpcUrlSource } from './rpc/endpoints';
import type { IndexerSpec } from './spec';
import { NatsLinks } from './stream/connection';
import { DEFAULT_NATS_URL, parseNatsUrl } from './stream/nats-url';

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
  /** Prebuilt bundle (tests and production); bundled from source when unset. */
  workflowBundle?: WorkflowBundleOption;
  metrics?: IndexerMetrics;
  maxConcurrentActivityTaskExecutions?: number;
  maxTaskQueueActivitiesPerSecond?: number;
  maxCachedWorkflows?: number;
  shutdownGraceTime?: string;
}

export interface IndexerWorker {
  worker: Worker;
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
  const rpcs = new Map<number, ChainRpc>();
  // One ChainRpc per chain for the worker's life, so breakers, limits and latency stats persist.
  const rpcFor = (spec: Pick<IndexerSpec, 'chainId' | 'tuning'>) => {
    let rpc = rpcs.get(spec.chainId);
    if (!rpc) {
      const urls = requireRpcUrls(settings.rpcUrls, spec.chainId);
      for (const url of urls) redactor.addUrl(url);
      rpc = new ChainRpc(spec.chainId, urls, { timeoutMs: spec.tuning.rpcTimeoutMs, requestsPerSecond: spec.tuning.rpcRequestsPerSecond });
      rpcs.set(spec.chainId, rpc);
    }
    return rpc;
  };
  settings.metrics?.watchEndpoints(() => [...rpcs.values()].map((rpc) => ({ chainId: rpc.chainId, endpoints: rpc.health() })));
  const activities = createActivities({ pool, rpcFor, logger: settings.logger, redact: (t) => redactor.redact(t), metrics: settings.metrics, natsFor: (spec) => natsLinks.get(spec) });
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: settings.temporalAddress });
  } catch (error) {
    await natsLinks.close();
    await pool.end().catch(() => undefined);
    throw error;
  }
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    activities,
    workflowBundle: settings.workflowBundle ?? (await bundleWorkflowsInChildProcess(WORKFLOWS_PATH)),
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivityTaskExecutions ?? 16,
    maxTaskQueueActivitiesPerSecond: settings.maxTaskQueueActivitiesPerSecond,
    ...(settings.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: settings.maxCachedWorkflows } : {}),
    shutdownGraceTime: settings.shutdownGraceTime ?? '20 seconds',
  });
  return {
    worker,
    pool,
    redactor,
    shutdown: () => worker.shutdown(),
    run: async () => {
      try {
        await worker.run();
      } finally {
        await natsLinks.close();
        await pool.end().catch(() => undefined);
        await connection.close().catch(() => undefined);
      }
    },
  };
}

/**
 * Worker tuning from the environment (documented in the README, "Running in production"):
 * activity slots per worker, a task-queue-wide activity rate, the sticky workflow cache, and how
 * long in-flight activities get to finish on SIGTERM before they are handed back.
 */
export function workerTuningFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<
  WorkerSettings,
  'maxConcurrentActivityTaskExecutions' | 'maxTaskQueueActivitiesPerSecond' | 'maxCachedWorkflows' | 'shutdownGraceTime'
> {
  const positive = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidConfigError(`${name}=${raw} must be a positive number`);
    return n;
  };
  const grace = env.WORKER_SHUTDOWN_GRACE_TIME;
  if (grace !== undefined && !/^\d+(ms|s|m)?$/.test(grace.replace(/\s+/g, ''))) {
    throw new InvalidConfigError(`WORKER_SHUTDOWN_GRACE_TIME=${grace} must be a duration like 25s`);
  }
  return {
    maxConcurrentActivityTaskExecutions: positive('WORKER_MAX_CONCURRENT_ACTIVITIES'),
    maxTaskQueueActivitiesPerSecond: positive('WORKER_MAX_ACTIVITIES_PER_SECOND'),
    maxCachedWorkflows: positive('WORKER_MAX_CACHED_WORKFLOWS'),
    shutdownGraceTime: grace?.replace(/\s+/g, ''),
  };
}
