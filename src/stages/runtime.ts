import { Registry } from 'prom-client';
import type { EventTable } from '../abi/layout';
import type { PoolClient } from '../db/pool';
import type { RepairChange } from '../db/repair';
import type { IndexerSpec } from '../spec';

/**
 * The worker side of a downstream stage (docs/design.md, "Stages"), beside its workflow side
 * (./stage.ts): its activities, what it does in prepareIndexer's and in a rollback's transaction,
 * and its metrics. `Env` is what its activities need of the worker (activities/env.ts provides it).
 */
export interface StageRuntime<Env = never> {
  /** The stage's name, as its workflow side has it. */
  readonly name: string;
  /** Its activities: bodies taking the worker's env and the activity's input (with the spec looked up). */
  readonly activities: Record<string, (env: Env, input: never) => Promise<unknown>>;
  /**
   * Its own bookkeeping (tables whose names start with `_`, functions), created with the indexer's
   * tables, idempotent; for every registered stage, configured or not (its `rewind` may look).
   */
  ddl(schema: string): string[];
  /** Checks made before any table is created (prepareIndexer): a module that does not load, say. */
  check?(env: Env, spec: IndexerSpec): Promise<void>;
  /**
   * In prepareIndexer's transaction, once the tables exist (a failure leaves nothing behind): the
   * stage's own bookkeeping, and its stored position as fields of prepareIndexer's result.
   */
  prepare(client: PoolClient, input: { env: Env; spec: IndexerSpec; tables: readonly EventTable[] }): Promise<object>;
  /**
   * Its side of a rollback to `ancestor` (a reorg, `indexer reset`), in the rollback's transaction,
   * before the rows above the ancestor go: what it did with them is undone, or owed. Runs for
   * every registered stage, configured or not (a stage dropped from the config may have left state).
   */
  rewind(client: PoolClient, rollback: { schema: string; chainId: number; ancestor: number; eventTables: readonly EventTable[] }): Promise<void>;
  /**
   * Its side of a repair (verification put right events below the checkpoint: some left, some
   * entered, some changed), in the repair's transaction, after the rows are replaced: a stage that
   * went past the first repaired block must end as if the repaired events had been there from the
   * start. Returns a small summary the workflow's stage state reads (`StageState.repaired`), or
   * undefined when the stage had nothing to do.
   */
  repair(client: PoolClient, change: RepairChange): Promise<object | undefined>;
  /** Registers its metrics (the worker's /metrics lists them from the start). */
  metrics(registry: Registry): unknown;
}

export type MetricSpec = Pick<IndexerSpec, 'name' | 'chainId'>;

/** The labels every stage metric has. */
export const labelsOf = (spec: MetricSpec) => ({ indexer: spec.name, chain_id: String(spec.chainId) });

/** Where metrics go on a worker without /metrics: nobody scrapes it. */
const UNSCRAPED = new Registry();

/** A stage's metrics, made once per registry (a worker has one; a test process may make several). */
export function metricsOnce<M>(make: (registry: Registry) => M): (registry?: Registry) => M {
  const made = new WeakMap<Registry, M>();
  return (registry = UNSCRAPED) => {
    let metrics = made.get(registry);
    if (metrics === undefined) made.set(registry, (metrics = make(registry)));
    return metrics;
  };
}
