import type { Registry } from 'prom-client';
import { specStartBlock } from '../../spec';
import type { Pool } from '../../db/pool';
import { lockChainHistory } from '../../db/locks';
import { inTransaction } from '../../db/pool';
import type { LogRouter } from '../../indexing/log-router';
import type { Logger } from '../../logger';
import type { ChainRpc } from '../../rpc/client';
import type { IndexerSpec } from '../../spec';
import { runSetup } from './batch';
import { emptyDerivedState } from './derived-state';
import { handlersMetrics } from './metrics';
import { bindHandlers, handledTables, importHandlers, type BoundHandlers } from './module';
import { handleBatches } from './overlapped';
import type { HandleEventsInput, HandleEventsResult, RebuildHandlersInput, RebuildHandlersResult } from './types';

/** What the handlers stage needs of the worker (activities/env.ts gives it). */
export interface HandlersEnv {
  pool: Pool;
  /** Connections in pg's pipeline mode: statements a handler does not await do not wait for each other. */
  pipelinedPool: Pool;
  routerFor: (spec: IndexerSpec) => LogRouter;
  /** The chain's endpoints (handlers' reads of the chain). */
  rpcFor: (spec: IndexerSpec) => ChainRpc;
  log: () => Logger;
  metricsRegistry?: Registry;
}

/** Events per transaction: thousands amortise the commit in backfill; near the head a batch holds what is new. */
const BATCH_EVENTS = 2_000;
/** One activity works through batches for about this long: a few history events per stretch, and a status that moves. */
const ACTIVITY_BUDGET_MS = 5_000;

/** Modules loaded, per worker env: once per process (a fixed module takes a worker restart, as any code change does). */
const loaded = new WeakMap<HandlersEnv, Map<string, Promise<BoundHandlers>>>();

/** The spec's handlers module, loaded once and checked against its tables; a module that failed to load is tried again next time. */
export function handlersFor(env: HandlersEnv, spec: IndexerSpec): Promise<BoundHandlers> {
  const file = spec.handlers?.module;
  if (!file) throw new Error(`indexer ${spec.name} has no handlers configured`);
  let modules = loaded.get(env);
  if (!modules) loaded.set(env, (modules = new Map()));
  const key = `${file}:${spec.name}:${spec.chainId}`;
  let bound = modules.get(key);
  if (!bound) {
    bound = importHandlers(file).then((module) => bindHandlers(module, handledTables(spec, env.routerFor(spec).tables)));
    bound.catch(() => modules.delete(key));
    modules.set(key, bound);
  }
  return bound;
}

/**
 * Stored events after the stage's cursor, up to `toBlock` (never past the stored ingest
 * checkpoint), through the user's handlers, batch by batch, each batch and the cursor in one
 * transaction. A handler that throws ends the activity with the failure in its summary: the
 * workflow pauses the stage, ingest goes on.
 */
export async function handleEvents(env: HandlersEnv, { spec, toBlock, head }: HandleEventsInput): Promise<HandleEventsResult> {
  const started = Date.now();
  const target = { pool: env.pipelinedPool, spec, tables: env.routerFor(spec).tables, handlers: await handlersFor(env, spec), head, rpc: () => env.rpcFor(spec) };
  const { events, checkpoint, caughtUp, failure } = await handleBatches(target, toBlock, BATCH_EVENTS, ACTIVITY_BUDGET_MS);
  const durationMs = Date.now() - started;
  handlersMetrics(env.metricsRegistry).handled(spec, { events, durationMs, checkpoint });
  if (failure) env.log().warn({ ...failure }, 'handler failed; the handlers stage pauses');
  return { checkpoint, events, durationMs, caughtUp, failure };
}

/**
 * `indexer rebuild`, in one transaction: derived tables emptied, the undo log cleared, every
 * chain's handlers back before their first event, setup run again. The stage then replays the
 * stored events (no RPC). Each chain's workflow asks; the first one does it for all
 * (`rebuildId` makes the others' requests no-ops).
 */
export async function rebuildHandlers(env: HandlersEnv, { spec, rebuildId }: RebuildHandlersInput): Promise<RebuildHandlersResult> {
  const tables = env.routerFor(spec).tables;
  const handlers = await handlersFor(env, spec);
  const startBlock = specStartBlock(spec);
  const done = await inTransaction(env.pool, async (client) => {
    await lockChainHistory(client, spec.name, spec.chainId);
    const already = await emptyDerivedState(client, spec.name, spec.chainId, startBlock, tables.map((t) => t.table), { rebuildId });
    if (!already) await runSetup(client, { spec, tables, handlers });
    return already;
  });
  env.log().info({ rebuildId, alreadyDone: done }, 'handlers rebuilt from the start');
  return { checkpoint: startBlock - 1 };
}

/** The stage's activities, by the names the workflow schedules them with. */
export function handlersActivities() {
  return { handleEvents, rebuildHandlers };
}
