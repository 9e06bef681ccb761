import { createActivities, type IndexerActivities } from '../activities';
import { createPool, type Pool } from '../db/pool';
import { HeapBound, limitHeapGrowth } from './heap-bound';
import type { Logger } from '../logger';
import type { IndexerMetrics } from './metrics';
import type { Redactor } from '../redact';
import { ChainRpc } from '../rpc/client';
import { requireRpcUrls, type RpcUrlSource } from '../rpc/endpoints';
import type { IndexerSpec } from '../spec';
import { stageRuntimes } from '../stages/runtimes';
import { NatsLinks } from '../stages/stream/connection';
import type { NatsServers } from '../stages/stream/nats-url';

/**
 * What the worker's activities run on: the database pools, one RPC client per chain, the NATS
 * links, and the activities wired to them. worker.ts loads this module with import() while
 * Worker.create boots the workflow thread, so pg, NATS and the activity code load on one core
 * while the thread loads on the other.
 */
export interface ActivityHostSettings {
  databaseUrl: string;
  rpcUrls: RpcUrlSource;
  nats: NatsServers;
  redactor: Redactor;
  logger: Logger;
  metrics?: IndexerMetrics;
  /** Collect the heap once it passes this many MB (heap-bound.ts, checked every 100 ms); unset or 0: never. */
  heapBoundMb?: number;
}

export interface ActivityHost {
  activities: IndexerActivities;
  pool: Pool;
  close: () => Promise<void>;
}

/** How often the heap bound is checked: at a backfill's 60-130 MB/s of garbage, a tenth of a second lets the heap pass it by 6-13 MB. */
const HEAP_CHECK_MS = 100;

export function startActivityHost(settings: ActivityHostSettings): ActivityHost {
  const { redactor } = settings;
  const natsLinks = new NatsLinks(settings.nats);
  const pool = createPool(settings.databaseUrl);
  // One handlers batch at a time per indexer; connections open as indexers need them.
  const pipelinedPool = createPool(settings.databaseUrl, 10, { pipeline: true });
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
  // Each stage's metrics on /metrics from the start, before its first activity records any.
  if (settings.metrics) for (const stage of stageRuntimes) stage.metrics(settings.metrics.registry);
  settings.metrics?.watchEndpoints(() => [...rpcs.values()].map((rpc) => ({ chainId: rpc.chainId, endpoints: rpc.health(), checks: rpc.checkStats() })));
  if (settings.heapBoundMb) limitHeapGrowth();
  const stopHeapWatch = settings.heapBoundMb ? new HeapBound(settings.heapBoundMb * 1024 * 1024).watch(HEAP_CHECK_MS) : undefined;
  const activities = createActivities({
    pool,
    pipelinedPool,
    rpcFor,
    logger: settings.logger,
    redact: (t) => redactor.redact(t),
    metrics: settings.metrics,
    natsFor: (spec) => natsLinks.get(spec),
  });
  return {
    activities,
    pool,
    close: async () => {
      stopHeapWatch?.();
      await natsLinks.close();
      await Promise.all([pool.end(), pipelinedPool.end()]).catch(() => undefined);
      for (const rpc of rpcs.values()) await rpc.close().catch(() => undefined);
    },
  };
}
