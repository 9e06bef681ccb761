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
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
