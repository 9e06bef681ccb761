import pg from 'pg';

/**
 * Consistent reads: every GraphQL request runs in ONE read-only REPEATABLE READ transaction. Every
 * statement PostGraphile plans for it (the rows, `totalCount`, `_meta`) runs on the same connection
 * inside it, so they all see one snapshot: a handlers batch or a rollback (each one transaction) is
 * in the response whole or not at all. The transaction begins with the request's first statement
 * and is committed (nothing to write) once the request is done: see ReadTransaction for how neither
 * costs a round trip of its own.
 *
 * PostGraphile reaches the database only through the `withPgClient` function in the request's
 * context; `ReadTransaction.withPgClient` is that function.
 */

/** The `PgClient` shape @dataplan/pg asks of `withPgClient`'s connection. */
export interface ApiPgClient {
  rawClient: pg.PoolClient;
  query<TData>(options: { text: string; values?: unknown[]; arrayMode?: boolean; name?: string }): Promise<{ rows: readonly TData[]; rowCount?: number | null }>;
  withTransaction<T>(callback: (client: ApiPgClient) => Promise<T>): Promise<T>;
}

export type WithPgClient = <T>(pgSettings: Record<string, string | undefined> | null, callback: (client: ApiPgClient) => T | Promise<T>) => Promise<T>;

const BEGIN = 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY';

/**
 * The API's pool: values as PostgreSQL's text (PostGraphile casts and decodes every column itself,
 * so no number passes through a double), a statement timeout, read-only sessions.
 */
export function createApiPool(connectionString: string, options: { max: number; statementTimeoutMs: number }): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: 'temporal-evm-indexer-api',
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(options.statementTimeoutMs * 2, 10_000),
    // Belt and braces: the sessions are read-only by default too, not only each transaction.
    options: '-c default_transaction_read_only=on',
    // Statements are sent without waiting for the previous one's answer (ReadTransaction).
    pipeline: true,
    types: { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig,
  });
  // A connection lost to a PostgreSQL restart must not crash the server: the request in flight
  // fails with an error, /health/ready says 503, and the next request connects again.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** What a pooled connection owes: the COMMIT of the last request's transaction, when it is deferred. */
interface ConnectionState {
  commitOwed: boolean;
  timer?: NodeJS.Timeout;
}
const CONNECTIONS = new WeakMap<pg.PoolClient, ConnectionState>();

/** How long a connection back in the pool may keep its last read-only transaction open before it is committed on its own. */
const COMMIT_WITHIN_MS = 50;

interface Corkable {
  cork?: () => void;
  uncork?: () => void;
}

/**
 * One request's transaction, begun by its first statement. The pool is in pg's pipeline mode, and
 * the first statement goes out in one write with its BEGIN (and with the COMMIT the connection still
 * owes its previous request): a request costs the database one round trip more than its statements
 * only when the connection sat idle. A request's COMMIT is deferred (the transaction is read-only:
 * nothing waits on it): the next request on the connection sends it first, or a timer within 50 ms.
 * A request that saw an error commits (rolls back) at once, and a connection that failed is dropped.
 */
export class ReadTransaction {
  private client: Promise<pg.PoolClient> | undefined;
  private begun = false;
  private ended = false;
  private failure: Error | undefined;

  constructor(private readonly pool: pg.Pool) {}

  readonly withPgClient: WithPgClient = async (_pgSettings, callback) => {
    if (this.ended) throw new Error('the request is over: its transaction has ended');
    const client = await (this.client ??= this.pool.connect());
    return callback(this.adaptor(client));
  };

  private adaptor(client: pg.PoolClient): ApiPgClient {
    const self: ApiPgClient = {
      rawClient: client,
      query: async <TData>(options: { text: string; values?: unknown[]; arrayMode?: boolean }) => {
        const config = { text: options.text, values: options.values, ...(options.arrayMode ? { rowMode: 'array' as const } : {}) };
        try {
          const result = await this.send(client, config);
          return { rows: result.rows as TData[], rowCount: result.rowCount };
        } catch (error) {
          this.failure ??= error as Error;
          throw error;
        }
      },
      // Already inside the request's (read-only) transaction: nested work runs in it.
      withTransaction: (callback) => callback(self),
    };
    return self;
  }

  private send(client: pg.PoolClient, config: pg.QueryConfig): Promise<pg.QueryResult> {
    if (this.begun) return client.query(config);
    this.begun = true;
    const state = CONNECTIONS.get(client);
    const stream = (client as unknown as { connection?: { stream?: Corkable } }).connection?.stream;
    stream?.cork?.();
    try {
      const owed = state?.commitOwed ? client.query('COMMIT') : undefined;
      if (state) {
        state.commitOwed = false;
        clearTimeout(state.timer);
      }
      const begin = client.query(BEGIN);
      const result = client.query(config);
      return Promise.all([owed, begin, result]).then(([, , r]) => r);
    } finally {
      stream?.uncork?.();
    }
  }

  /** Ends the transaction and gives the connection back; safe to call more than once, or when nothing began. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const client = await this.client?.catch(() => undefined);
    if (!client) return;
    if (!this.begun) return client.release();
    if (this.failure) {
      // Read-only: COMMIT of a failed transaction rolls it back. A connection that cannot say so is dropped.
      try {
        await client.query('COMMIT');
        client.release();
      } catch (error) {
        client.release(error as Error);
      }
      return;
    }
    let state = CONNECTIONS.get(client);
    if (!state) CONNECTIONS.set(client, (state = { commitOwed: false }));
    state.commitOwed = true;
    const owing = state;
    owing.timer = setTimeout(() => {
      if (!owing.commitOwed) return;
      owing.commitOwed = false;
      // The connection is idle in the pool (or just taken, before its first statement: then this
      // COMMIT goes first all the same, and that request's BEGIN after it).
      client.query('COMMIT').catch(() => undefined);
    }, COMMIT_WITHIN_MS);
    owing.timer.unref();
    client.release();
  }
}

/**
 * For work outside a request (a subscription's events): each call runs in a transaction of its own.
 */
export function oneShotWithPgClient(pool: pg.Pool): WithPgClient {
  return async (pgSettings, callback) => {
    const transaction = new ReadTransaction(pool);
    try {
      return await transaction.withPgClient(pgSettings, callback);
    } finally {
      await transaction.end();
    }
  };
}
