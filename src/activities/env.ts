import { Context } from '@temporalio/activity';
import type { Registry } from 'prom-client';
import type { Pool } from '../db/pool';
import { writeRange, type RangeWrite, type RangeWriteResult } from '../db/writer';
import { childrenUpTo } from '../db/factory-children';
import { FactoryWatcher } from '../indexing/factories';
import { LogRouter } from '../indexing/log-router';
import type { Logger } from '../logger';
import type { IndexerMetrics } from '../worker/metrics';
import type { ChainRpc } from '../rpc/client';
import { isSpecRef, specHash, type IndexerSpec, type SpecOrRef } from '../spec';
import { loadSpec, storeSpec } from '../db/specs';
import { IndexerError } from '../errors';
import type { NatsLink } from '../stages/stream/connection';

export interface ActivityDeps {
  pool: Pool;
  /** Connections in pg's pipeline mode (db/pool.ts), for handler batches; `pool` when not given. */
  pipelinedPool?: Pool;
  /** The worker's RPC access for a chain; throws RpcNotConfiguredError when it has none. */
  rpcFor: (spec: Pick<IndexerSpec, 'chainId' | 'tuning'>) => ChainRpc;
  logger: Logger;
  /** Removes every secret the worker knows of (RPC URLs, database password) from a text. */
  redact: (text: string) => string;
  metrics?: IndexerMetrics;
  /** The stream stage's NATS connection for a spec (stream/connection.ts NatsLinks). */
  natsFor?: (spec: Pick<IndexerSpec, 'name' | 'chainId'>) => NatsLink;
}

/** What the activity bodies work with: the worker's pool and RPC, decoders per spec, log and metrics. */
export interface ActivityEnv {
  pool: Pool;
  /** Connections in pg's pipeline mode: statements a handler does not await do not wait for each other. */
  pipelinedPool: Pool;
  rpcFor: ActivityDeps['rpcFor'];
  /** The spec's decoders and tables, built once per spec, not per range. */
  routerFor: (spec: IndexerSpec) => LogRouter;
  /** The router for blocks up to `toBlock`: with the factories' children known up to there. */
  rangeRouter: (spec: IndexerSpec, toBlock: number) => Promise<LogRouter>;
  /** The spec's factories (their events, and the children they name). */
  factoriesFor: (spec: IndexerSpec) => FactoryWatcher;
  /** The spec's NATS connection on this worker: one per indexer × chain, so one stage's broken connection is its own. */
  natsFor: (spec: Pick<IndexerSpec, 'name' | 'chainId'>) => NatsLink;
  /** The running activity's logger: workflow id, run id and activity type. */
  log: () => Logger;
  metrics: ActivityMetrics;
  /** Where stages record their own metrics (each stage's metrics.ts); none on a worker without /metrics. */
  metricsRegistry?: Registry;
  /** The input with its spec looked up when it came by reference (memory, else `_specs`). */
  resolveSpec: <I>(input: I) => Promise<I>;
  /** Stores the spec for references to it, and remembers it (prepareIndexer). */
  rememberSpec: (spec: IndexerSpec) => Promise<void>;
  /** Writes one range in one transaction (db/writer.ts), filling in what the spec says. */
  storeRange: (spec: IndexerSpec, write: Omit<RangeWrite, 'schema' | 'chainId' | 'tables'>) => Promise<RangeWriteResult>;
}

/** The metrics activities record; no-ops on a worker without metrics. */
export interface ActivityMetrics {
  range: (spec: IndexerSpec, mode: 'backfill' | 'realtime', r: { logs: number; durationMs: number; splits?: number }) => void;
  head: (spec: IndexerSpec, block: number) => void;
  lag: (spec: IndexerSpec, blocks: number) => void;
  checkpoint: (spec: Pick<IndexerSpec, 'name' | 'chainId'>, block: number) => void;
  rollback: (spec: IndexerSpec, reason: 'reorg' | 'reset') => void;
  verificationMismatch: (spec: IndexerSpec) => void;
  /** Events a verification's repair added, removed and changed. */
  repair: (spec: IndexerSpec, r: { added: number; removed: number; changed: number }) => void;
}

export function createActivityEnv(deps: ActivityDeps): ActivityEnv {
  const routers = new Map<string, LogRouter>();
  const routerFor = (spec: IndexerSpec) => {
    const key = `${spec.name}:${spec.chainId}:${JSON.stringify(spec.contracts)}`;
    let router = routers.get(key);
    if (!router) {
      router = new LogRouter(spec);
      routers.set(key, router);
    }
    return router;
  };
  const watchers = new Map<string, FactoryWatcher>();
  const factoriesFor = (spec: IndexerSpec) => {
    const key = `${spec.name}:${spec.chainId}:${JSON.stringify(spec.contracts)}`;
    let watcher = watchers.get(key);
    if (!watcher) watchers.set(key, (watcher = new FactoryWatcher(spec)));
    return watcher;
  };
  const rangeRouter = async (spec: IndexerSpec, toBlock: number) => {
    const router = routerFor(spec);
    return router.hasFactories ? router.withChildren(await childrenUpTo(deps.pool, spec.name, spec.chainId, toBlock)) : router;
  };
  const specs = new Map<string, IndexerSpec>();
  const resolveSpec = async <I>(input: I): Promise<I> => {
    const spec = (input as { spec?: SpecOrRef } | undefined)?.spec;
    if (!spec || !isSpecRef(spec)) return input;
    let found = specs.get(spec.hash);
    if (!found) {
      found = await loadSpec(deps.pool, spec.name, spec.hash);
      if (!found) throw new IndexerError(`the spec of ${spec.name} (${spec.hash}) is not in ${spec.name}._specs: its tables were dropped under a running indexer; restart it (indexer stop ${spec.name}, then indexer start)`);
      specs.set(spec.hash, found);
    }
    return { ...input, spec: found };
  };
  const rememberSpec = async (spec: IndexerSpec) => {
    const hash = specHash(spec);
    await storeSpec(deps.pool, spec, hash);
    specs.set(hash, spec);
  };
  const natsFor = (spec: Pick<IndexerSpec, 'name' | 'chainId'>) => {
    if (!deps.natsFor) throw new Error('this worker has no NATS servers configured');
    return deps.natsFor(spec);
  };
  return {
    pool: deps.pool,
    pipelinedPool: deps.pipelinedPool ?? deps.pool,
    rpcFor: deps.rpcFor,
    routerFor,
    rangeRouter,
    factoriesFor,
    resolveSpec,
    rememberSpec,
    natsFor,
    log: () => {
      const info = Context.current().info;
      return deps.logger.child({ workflowId: info.workflowExecution?.workflowId, runId: info.workflowExecution?.runId, activity: info.activityType });
    },
    metrics: activityMetrics(deps.metrics),
    ...(deps.metrics ? { metricsRegistry: deps.metrics.registry } : {}),
    storeRange: (spec, write) => writeRange(deps.pool, { schema: spec.name, chainId: spec.chainId, tables: routerFor(spec).tables, ...write }),
  };
}

function activityMetrics(metrics: IndexerMetrics | undefined): ActivityMetrics {
  const labels = (spec: Pick<IndexerSpec, 'name' | 'chainId'>) => ({ indexer: spec.name, chain_id: String(spec.chainId) });
  return {
    range: (spec, mode, r) => {
      if (!metrics) return;
      metrics.logsIndexed.inc(labels(spec), r.logs);
      metrics.ranges.inc({ ...labels(spec), mode });
      metrics.rangeDuration.observe({ ...labels(spec), mode }, r.durationMs / 1000);
      metrics.rowsPerRange.observe(labels(spec), r.logs);
      if (r.splits) metrics.rangeSplits.inc(labels(spec), r.splits);
    },
    head: (spec, block) => metrics?.head.set(labels(spec), block),
    lag: (spec, blocks) => metrics?.lag.set(labels(spec), blocks),
    checkpoint: (spec, block) => metrics?.checkpoint.set(labels(spec), block),
    rollback: (spec, reason) => metrics?.reorgs.inc({ ...labels(spec), reason }),
    verificationMismatch: (spec) => metrics?.verificationMismatches.inc(labels(spec)),
    repair: (spec, r) => {
      for (const kind of ['added', 'removed', 'changed'] as const) if (r[kind] > 0) metrics?.repairs.inc({ ...labels(spec), kind }, r[kind]);
    },
  };
}
