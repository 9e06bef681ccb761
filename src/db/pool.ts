import pg from 'pg';
import { routePoolQueriesThroughClients, traceClientQueries } from './traced';

// numeric and bigint come back as strings by default; keep that (uint256 does not fit a JS number).
export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** A pool or one of its clients (inside a transaction): what read helpers need. */
export type Queryable = Pick<pg.Pool, 'query'>;

/**
 * `pipeline`: each client sends a query as soon as it is issued instead of after the previous
 * one's answer (pg's pipeline mode), for statements issued without waiting, as handlers' are.
 * Such a pool cannot run COPY (pg refuses submittables in that mode): the main pool does not use it.
 */
export function createPool(connectionString: string, max = 10, options: { pipeline?: boolean } = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 30_000, application_name: 'temporal-evm-indexer', pipeline: options.pipeline ?? false });
  // A connection lost to a PostgreSQL restart must not crash the worker: idle clients report it on
  // the pool, checked-out ones on themselves; either way the query in flight rejects (the activity
  // fails and is retried) and the next query reconnects.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    traceClientQueries(client);
  });
  routePoolQueriesThroughClients(pool);
  return pool;
}

/** Runs `work` in one transaction: committed whole or rolled back whole. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return onConnection(pool, async (client) => {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  });
}

/** Runs a transaction's statements on one of the pool's connections: rolled back if they throw, the connection given back either way. */
async function onConnection<T>(pool: pg.Pool, transaction: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await transaction(client);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * One transaction on a pipelined connection: BEGIN goes out with the work's first statements,
 * and COMMIT right behind its last ones (`last`, which the work does not wait for), so neither
 * costs a round trip of its own. A last statement the server refuses turns the COMMIT into a
 * rollback, and its error is thrown; one pg refused before sending it aborted nothing, and the
 * COMMIT that went through is thrown as CommittedDespiteFailure.
 */
export async function inPipelinedTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<{ result: T; last: Promise<unknown> }>): Promise<T> {
  return onConnection(pool, async (client) => {
    const begun = client.query('BEGIN');
    begun.catch(() => undefined); // awaited below; its failure also fails every statement after it
    const { result, last } = await work(client);
    const committed = client.query('COMMIT');
    const [, lastOutcome, commitOutcome] = await Promise.allSettled([begun, last, committed]);
    if (lastOutcome.status === 'rejected') {
      // A statement pg refused before sending it aborts nothing: then the COMMIT went through.
      if (commitOutcome.status === 'fulfilled' && commitOutcome.value.command === 'COMMIT') {
        throw new CommittedDespiteFailure(lastOutcome.reason);
      }
      throw lastOutcome.reason;
    }
    await Promise.all([begun, committed]);
    return result;
  });
}

/** `inPipelinedTransaction`'s transaction committed, though a statement sent before its COMMIT failed (pg refused it before sending). */
export class CommittedDespiteFailure extends Error {
  constructor(readonly statementError: unknown) {
    super(`committed although a statement sent with the COMMIT failed: ${statementError instanceof Error ? statementError.message : String(statementError)}`);
  }
}
