import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type pg from 'pg';
import { TRACER_NAME, errorName } from '../tracing';

/**
 * PostgreSQL spans for every query, added in one place (the pool) instead of around each call.
 * A span says `pg <OPERATION>` with the operation and the table; never the connection string,
 * the statement's values or an error message.
 */

/** `INSERT INTO "demo"."token_transfer" …` → operation INSERT, table "demo"."token_transfer". */
export function describeQuery(sql: string): { operation: string; table?: string } {
  const text = sql.trim();
  const operation = (/^[a-z]+/i.exec(text)?.[0] ?? 'QUERY').toUpperCase();
  const ident = `("[^"]+"|[a-z_][a-z0-9_$]*)(\\s*\\.\\s*("[^"]+"|[a-z_][a-z0-9_$]*))?`;
  const patterns: Record<string, RegExp> = {
    INSERT: new RegExp(`^INSERT\\s+INTO\\s+${ident}`, 'i'),
    DELETE: new RegExp(`^DELETE\\s+FROM\\s+${ident}`, 'i'),
    UPDATE: new RegExp(`^UPDATE\\s+${ident}`, 'i'),
    COPY: new RegExp(`^COPY\\s+${ident}`, 'i'),
    SELECT: new RegExp(`\\sFROM\\s+${ident}`, 'i'),
  };
  const m = patterns[operation]?.exec(text);
  return { operation, table: m ? m[0].replace(/^.*?(INTO|FROM|UPDATE|COPY)\s+/i, '').replace(/\s+/g, '') : undefined };
}

/** Handlers run a few statement texts thousands of times: each is described once. */
const described = new Map<string, ReturnType<typeof describeQuery>>();
const MAX_DESCRIBED = 1_000;
const MAX_DESCRIBED_LENGTH = 2_000;

function describeOnce(sql: string): ReturnType<typeof describeQuery> {
  let description = described.get(sql);
  if (!description) {
    description = describeQuery(sql);
    if (described.size < MAX_DESCRIBED && sql.length <= MAX_DESCRIBED_LENGTH) described.set(sql, description);
  }
  return description;
}

function startQuerySpan(sql: string | undefined): Span {
  const { operation, table } = describeOnce(sql ?? '');
  return trace.getTracer(TRACER_NAME).startSpan(`pg ${operation}`, {
    kind: SpanKind.CLIENT,
    attributes: { 'db.system': 'postgresql', 'db.operation': operation, ...(table ? { 'db.sql.table': table } : {}) },
  });
}

function endSpan(span: Span, error?: unknown): void {
  if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: errorName(error) });
  span.end();
}

type QueryArgs = [unknown, ...unknown[]];

/** Wraps one client's `query` (every form pg has: promise, callback, and submittables such as COPY streams). */
export function traceClientQueries(client: pg.PoolClient | pg.Client): void {
  const query = client.query.bind(client) as (...args: QueryArgs) => unknown;
  (client as { query: unknown }).query = (...args: QueryArgs) => {
    const first = args[0] as { text?: string; submit?: unknown } | string;
    const span = startQuerySpan(typeof first === 'string' ? first : first?.text);
    if (typeof first === 'object' && typeof first?.submit === 'function') {
      // A submittable (pg-copy-streams' COPY FROM STDIN): done when the stream is.
      const stream = query(...args) as NodeJS.EventEmitter;
      stream.once('finish', () => endSpan(span));
      stream.once('error', (error) => endSpan(span, error));
      return stream;
    }
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (error: unknown, result: unknown) => void;
      args[last] = (error: unknown, result: unknown) => {
        endSpan(span, error);
        callback(error, result);
      };
      return query(...args);
    }
    return (query(...args) as Promise<unknown>).then(
      (result) => {
        endSpan(span);
        return result;
      },
      (error: unknown) => {
        endSpan(span, error);
        throw error;
      },
    );
  };
}

/**
 * Routes `pool.query` through `pool.connect()`: pg-pool hands a waiting query its client from
 * inside another query's release, which would make that other query's span its parent. Awaiting
 * the connection here keeps each query in its caller's context. Same semantics as pg-pool's own
 * query: a client that failed is released with the error (and discarded).
 */
export function routePoolQueriesThroughClients(pool: pg.Pool): void {
  (pool as { query: unknown }).query = async (...args: QueryArgs) => {
    if (typeof args[args.length - 1] === 'function') throw new TypeError('pool.query with a callback is not supported here; use the promise form');
    const client = await pool.connect();
    try {
      const result = await (client.query as (...a: QueryArgs) => Promise<unknown>)(...args);
      client.release();
      return result;
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  };
}
