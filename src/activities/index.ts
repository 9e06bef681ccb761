import { Context } from '@temporalio/activity';
import { LogRouter } from '../indexing/log-router';
import { countRows, readCheckpoint, writeCheckpoint } from '../db/checkpoint';
import { ensureSchema } from '../db/schema';
import { writeRange } from '../db/writer';
import type { Pool } from '../db/pool';
import type { Logger } from '../logger';
import type { IndexerMetrics } from '../metrics';
import type { ChainRpc } from '../rpc/client';
import type { IndexerSpec } from '../spec';
import { rollbackTo } from '../db/rollback';
import { fetchTrackedRange } from './index-range';
import { findCommonAncestor } from './rollback';
import { syncTip } from './sync-tip';
import { verifyRange } from './verify-range';
import { recordVerification } from '../db/verify';
import { toActivityFailure } from './failure';
import { keepAlive } from './keep-alive';
import type {
  FindCommonAncestorInput,
  FindCommonAncestorResult,
  GetHeadInput,
  GetHeadResult,
  IndexRangeInput,
  IndexRangeResult,
  PrepareIndexerInput,
  PrepareIndexerResult,
  RollbackInput,
  RollbackResult,
  SaveCheckpointInput,
  SyncTipInput,
  SyncTipResult,
  RecordVerificationInput,
  VerifyRangeInput,
  VerifyRangeResult,
} from './types';

export interface ActivityDeps {
  pool: Pool;
  /** The worker's RPC access for a chain; throws RpcNotConfiguredError when it has none. */
  rpcFor: (spec: Pick<IndexerSpec, 'chainId' | 'tuning'>) => ChainRpc;
  logger: Logger;
  /** Removes every secret the worker knows of (RPC URLs, database password) from a text. */
  redact: (text: string) => string;
  metrics?: IndexerMetrics;
}

/** The block range an activity input names, for log context. */
function rangeOf(input: unknown): { fromBlock?: number; toBlock?: number } {
  const i = input as { fromBlock?: number; toBlock?: number; checkpoint?: number } | undefined;
  if (i?.fromBlock !== undefined) return { fromBlock: i.fromBlock, toBlock: i.toBlock };
  if (i?.checkpoint !== undefined) return { fromBlock: i.checkpoint + 1 };
  return {};
}

/** Activities built from their dependencies, so the worker wires real ones and tests wire their own. */
export function createActivities(deps: ActivityDeps) {
  const { pool, rpcFor, logger, redact, metrics } = deps;
  const labels = (spec: IndexerSpec) => ({ indexer: spec.name, chain_id: String(spec.chainId) });

  function recordRange(spec: IndexerSpec, mode: 'backfill' | 'realtime', r: { logs: number; durationMs: number; splits?: number }): void {
    if (!metrics) return;
    metrics.logsIndexed.inc(labels(spec), r.logs);
    metrics.ranges.inc({ ...labels(spec), mode });
    metrics.rangeDuration.observe({ ...labels(spec), mode }, r.durationMs / 1000);
    metrics.rowsPerRange.observe(labels(spec), r.logs);
    if (r.splits) metrics.rangeSplits.inc(labels(spec), r.splits);
  }
  const routers = new Map<string, LogRouter>();

  // Decoders are built once per spec, not per range.
  function routerFor(spec: IndexerSpec): LogRouter {
    const key = `${spec.name}:${spec.chainId}:${JSON.stringify(spec.contracts)}`;
    let router = routers.get(key);
    if (!router) {
      router = new LogRouter(spec);
      routers.set(key, router);
    }
    return router;
  }

  /** The activity's logger: workflow id, run id and activity type (callers add the block range). */
  function log() {
    const info = Context.current().info;
    return logger.child({ workflowId: info.workflowExecution?.workflowId, runId: info.workflowExecution?.runId, activity: info.activityType });
  }

  /** Every activity runs here: it heartbeats while alive, and its errors pass through on their way into history. */
  function guarded<I, O>(fn: (input: I) => Promise<O>): (input: I) => Promise<O> {
    return async (input: I) => {
      try {
        return await keepAlive(() => fn(input));
      } catch (error) {
        const failure = toActivityFailure(error, redact);
        log().warn({ err: failure.message, ...rangeOf(input) }, 'activity failed');
        throw failure;
      }
    };
  }

  return {
    /** Checks the chain id, then (only then) creates tables, and reads where the data ends. */
    prepareIndexer: guarded(async ({ spec }: PrepareIndexerInput): Promise<PrepareIndexerResult> => {
      const rpc = rpcFor(spec);
      await rpc.assertChainId();
      const router = routerFor(spec);
      await ensureSchema(pool, spec.name, router.tables);
      let checkpoint = await readCheckpoint(pool, spec.name, spec.chainId);
      if (checkpoint === undefined) {
        checkpoint = Math.min(...spec.contracts.map((c) => c.startBlock)) - 1;
        await writeCheckpoint(pool, spec.name, spec.chainId, checkpoint);
      }
      const tables = router.tables.map((t) => t.table);
      const logsIndexed = await countRows(pool, spec.name, spec.chainId, tables);
      log().info({ checkpoint, logsIndexed, tables }, 'indexer prepared');
      return { checkpoint, logsIndexed, tables };
    }),

    getHead: guarded(async ({ spec }: GetHeadInput): Promise<GetHeadResult> => {
      const rpc = rpcFor(spec);
      const head = await rpc.getBlockNumber();
      metrics?.head.set(labels(spec), head);
      return { head, safeHead: Math.max(-1, head - spec.tuning.confirmations), rpc: rpc.health(), notice: rpc.notice() };
    }),

    indexRange: guarded(async ({ spec, fromBlock, toBlock, advanceCheckpoint, trackHashesFrom }: IndexRangeInput): Promise<IndexRangeResult> => {
      const started = Date.now();
      const rpc = rpcFor(spec);
      const router = routerFor(spec);
      const { fetched, blocks } = await fetchTrackedRange(rpc, router, fromBlock, toBlock, trackHashesFrom);
      const written = await writeRange(pool, {
        schema: spec.name,
        chainId: spec.chainId,
        fromBlock,
        toBlock,
        tables: router.tables,
        logs: fetched.logs,
        blocks,
        advanceCheckpoint,
      });
      const durationMs = Date.now() - started;
      recordRange(spec, advanceCheckpoint ? 'realtime' : 'backfill', { logs: written.rows, durationMs, splits: fetched.splits });
      log().debug({ fromBlock, toBlock, logs: written.rows, splits: fetched.splits, durationMs }, 'range indexed');
      return {
        fromBlock,
        toBlock,
        logs: written.rows,
        splits: fetched.splits,
        acceptedRange: fetched.acceptedRange,
        durationMs,
        checkpointAdvanced: written.checkpointAdvanced,
        rpc: rpc.health(),
        notice: rpc.notice(),
      };
    }),

    syncTip: guarded(async (input: SyncTipInput): Promise<SyncTipResult> => {
      const rpc = rpcFor(input.spec);
      const result = await syncTip({ pool, rpc, router: routerFor(input.spec) }, input);
      if (result.reorg) log().warn({ ...result.reorg }, 'reorg detected');
      else if (result.checkpointAdvanced) {
        recordRange(input.spec, 'realtime', result);
        metrics?.checkpoint.set(labels(input.spec), result.toBlock);
      }
      metrics?.head.set(labels(input.spec), result.head);
      metrics?.lag.set(labels(input.spec), Math.max(0, result.head - Math.max(result.toBlock, input.checkpoint)));
      return { ...result, rpc: rpc.health(), notice: result.notice ?? rpc.notice() };
    }),

    findCommonAncestor: guarded(async ({ spec, detectedBlock }: FindCommonAncestorInput): Promise<FindCommonAncestorResult> => {
      return findCommonAncestor({ pool, rpc: rpcFor(spec) }, spec, detectedBlock);
    }),

    /** One transaction: rows, hashes and range records above the ancestor go, the checkpoint moves to it. */
    rollbackTo: guarded(async (input: RollbackInput): Promise<RollbackResult> => {
      const { spec } = input;
      const info = Context.current().info;
      const { rowsDeleted } = await rollbackTo(pool, {
        schema: spec.name,
        chainId: spec.chainId,
        tables: routerFor(spec).tables.map((t) => t.table),
        ancestor: input.ancestor,
        detectedBlock: input.detectedBlock,
        depth: input.depth,
        oldHash: input.oldHash,
        newHash: input.newHash,
        reason: input.reason,
        key: `${info.workflowExecution?.workflowId}:${info.workflowExecution?.runId}`,
      });
      log().warn({ ancestor: input.ancestor, depth: input.depth, rowsDeleted, reason: input.reason }, 'rolled back');
      metrics?.reorgs.inc({ ...labels(spec), reason: input.reason });
      metrics?.checkpoint.set(labels(spec), input.ancestor);
      return { checkpoint: input.ancestor, rowsDeleted };
    }),

    verifyRange: guarded(async (input: VerifyRangeInput): Promise<VerifyRangeResult> => {
      const result = await verifyRange({ pool, rpc: rpcFor(input.spec), router: routerFor(input.spec) }, input);
      if (result.mismatch) metrics?.verificationMismatches.inc(labels(input.spec));
      if (result.mismatch) log().warn({ fromBlock: result.fromBlock, toBlock: result.toBlock, problems: result.problems, repaired: result.repaired }, 'verification mismatch');
      return result;
    }),

    recordVerification: guarded(async ({ spec, ...record }: RecordVerificationInput): Promise<void> => {
      await recordVerification(pool, { schema: spec.name, chainId: spec.chainId, ...record });
    }),

    saveCheckpoint: guarded(async ({ name, chainId, block }: SaveCheckpointInput): Promise<void> => {
      await writeCheckpoint(pool, name, chainId, block);
      metrics?.checkpoint.set({ indexer: name, chain_id: String(chainId) }, block);
    }),
  };
}

export type IndexerActivities = ReturnType<typeof createActivities>;
