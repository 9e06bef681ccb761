import './polyfill';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, handleProtocols, makeServer, type FormattedExecutionResult } from 'graphql-ws';
import type pg from 'pg';
import { execute, hookArgs, isAsyncIterable, subscribe, type GrafastSubscriber } from 'postgraphile/grafast';
import { GraphQLError, type ExecutionResult } from 'postgraphile/graphql';
import { getStaticFile } from 'postgraphile/grafserv/ruru/static';
import { ruruHTML } from 'postgraphile/grafserv/ruru/server';
import { WebSocket, WebSocketServer } from 'ws';
import { isIdentifier } from '../db/identifiers';
import type { Logger } from '../logger';
import { Redactor } from '../redact';
import { indexerSchemas } from './catalog';
import { ErrorFormatter } from './errors';
import { stringifyExact, exactJsonText } from './exact-json';
import { pageSizeVariableErrors } from './limits';
import { ApiMetrics, type Outcome, type Transport } from './metrics';
import { CheckpointNotifications, type CheckpointEvent } from './notifications';
import { ServedIndexer, type SchemaVersion } from './served-indexer';
import { ReadTransaction, createApiPool, oneShotWithPgClient } from './transaction';

/**
 * `indexer serve`: GraphQL over HTTP at /graphql/<name> for every indexer served (and /graphql when
 * exactly one is), over WebSocket (graphql-ws) and server-sent events on the same path, the IDE
 * (ruru) for a browser's GET, /health/live, /health/ready and /metrics. It reads PostgreSQL only.
 *
 * Queries run in one read-only REPEATABLE READ transaction each (transaction.ts). Each indexer's
 * GraphQL schema is built from the database at start and again within REFRESH_MS of a table
 * change (served-indexer.ts). Subscriptions come from PostgreSQL notifications (notifications.ts).
 */

export interface ApiServerOptions {
  databaseUrl: string;
  port: number;
  host: string;
  statementTimeoutMs: number;
  /** The indexers to serve; empty: every indexer schema in the database, and new ones as they appear. */
  indexers: readonly string[];
  logger: Logger;
  /** How often the tables (and, serving all, the schemas) are looked at for changes. */
  refreshMs?: number;
  /** PostgreSQL connections for queries (besides one LISTEN connection). */
  poolSize?: number;
}

export interface ApiServer {
  url: string;
  port: number;
  /** The indexers served now, by name. */
  indexers: () => string[];
  /** The GraphQL URL of one indexer. */
  graphqlUrl: (name: string) => string;
  metrics: ApiMetrics;
  /** Resolves once every indexer found so far has a schema (or `timeoutMs` passed). */
  settled: (timeoutMs?: number) => Promise<void>;
  close: () => Promise<void>;
}

const REFRESH_MS = 2_000;
const MAX_BODY = 100_000;
const KEEPALIVE_MS = 15_000;
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'content-type, accept',
  'access-control-max-age': '86400',
};
const RURU_STATIC = '/ruru-static/';

interface OperationParams {
  query: string;
  variables: Record<string, unknown> | null;
  operationName: string | null;
}

/** Thrown for a request that is not GraphQL over HTTP as we speak it: a status and a message. */
class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function operationParams(raw: unknown): OperationParams {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new BadRequest(400, 'the request must be a JSON object with "query" (and optionally "variables", "operationName")');
  const { query, variables, operationName } = raw as Record<string, unknown>;
  if (typeof query !== 'string' || query.trim() === '') throw new BadRequest(400, '"query" must be a string holding a GraphQL document');
  let vars = variables ?? null;
  if (typeof vars === 'string') {
    try {
      vars = vars.trim() === '' ? null : JSON.parse(vars);
    } catch {
      throw new BadRequest(400, '"variables" is not valid JSON');
    }
  }
  if (vars !== null && (typeof vars !== 'object' || Array.isArray(vars))) throw new BadRequest(400, '"variables" must be a JSON object');
  if (operationName != null && typeof operationName !== 'string') throw new BadRequest(400, '"operationName" must be a string');
  return { query, variables: vars as Record<string, unknown> | null, operationName: (operationName as string | undefined) ?? null };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_BODY) {
        reject(new BadRequest(413, `the request body is larger than ${MAX_BODY} bytes`));
        req.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function paramsOf(req: http.IncomingMessage, url: URL): Promise<OperationParams> {
  if (req.method === 'GET') {
    return operationParams({ query: url.searchParams.get('query') ?? undefined, variables: url.searchParams.get('variables') ?? undefined, operationName: url.searchParams.get('operationName') ?? undefined });
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const text = await readBody(req);
  if (type === 'application/graphql') return operationParams({ query: text });
  if (type !== 'application/json' && type !== '') throw new BadRequest(415, `content-type ${type} is not supported: send application/json`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequest(400, 'the request body is not valid JSON');
  }
  return operationParams(body);
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const logger = options.logger;
  const redactor = new Redactor().addUrl(options.databaseUrl);
  const metrics = new ApiMetrics();
  const formatter = new ErrorFormatter(redactor, options.statementTimeoutMs);
  const pool: pg.Pool = createApiPool(options.databaseUrl, { max: options.poolSize ?? 16, statementTimeoutMs: options.statementTimeoutMs });
  // Catalog reads and PostGraphile's introspection: not the requests' statement timeout (a schema
  // of many tables takes longer to introspect than a request may run), and off the requests' pool.
  const catalogPool: pg.Pool = createApiPool(options.databaseUrl, { max: 2, statementTimeoutMs: 60_000 });
  const oneShot = oneShotWithPgClient(pool);
  const notifications = new CheckpointNotifications(options.databaseUrl, logger, redactor);
  notifications.onNotification = (schema) => metrics.notifications.inc({ indexer: schema });
  notifications.onReconnect = () => metrics.listenReconnects.inc();
  const served = new Map<string, ServedIndexer>();
  const serveAll = options.indexers.length === 0;
  const refreshMs = options.refreshMs ?? REFRESH_MS;
  const openSubscriptions = new Map<string, number>();
  let closed = false;

  const subscriptionOpened = (indexer: string, transport: Transport, delta: 1 | -1) => {
    const key = `${indexer}\u0000${transport}`;
    const n = (openSubscriptions.get(key) ?? 0) + delta;
    openSubscriptions.set(key, n);
    metrics.subscriptions.set({ indexer, transport }, n);
  };

  const addIndexer = (name: string) => {
    if (served.has(name)) return served.get(name)!;
    const subscriber: GrafastSubscriber<Record<string, CheckpointEvent>> = {
      subscribe: (topic) => notifications.subscribe(name, topic === '*' ? null : Number(topic)),
    };
    const indexer = new ServedIndexer(name, { pool: catalogPool, logger, redactor, subscriber, onBuilt: () => metrics.schemaBuilds.inc({ indexer: name }) });
    served.set(name, indexer);
    let pending: NodeJS.Timeout | undefined;
    // A notification may follow a `setup` that changed a table: look again soon (at most every 500 ms).
    const soon = () => {
      if (pending || closed) return;
      pending = setTimeout(() => {
        pending = undefined;
        void indexer.refresh();
      }, 500);
      pending.unref();
    };
    void notifications.add(name, () => indexer.current?.columns, soon);
    return indexer;
  };

  for (const name of options.indexers) {
    if (!isIdentifier(name)) throw new Error(`"${name}" is not an indexer name (lowercase letters, digits and _, starting with a letter)`);
    addIndexer(name);
  }

  let ready = false;
  const tick = async () => {
    try {
      if (serveAll) {
        const names = await indexerSchemas(catalogPool);
        for (const name of names) if (isIdentifier(name)) addIndexer(name);
        for (const name of [...served.keys()]) {
          if (!names.includes(name)) {
            served.delete(name);
            await notifications.remove(name);
          }
        }
      } else {
        await pool.query('SELECT 1');
      }
      ready = true;
    } catch {
      ready = false;
    }
    metrics.ready.set(ready ? 1 : 0);
    await Promise.all([...served.values()].map((i) => i.refresh()));
  };
  let ticking: Promise<void> = tick();
  const timer = setInterval(() => {
    ticking = ticking.then(tick);
  }, refreshMs);
  timer.unref();

  const indexerAt = (pathname: string): ServedIndexer | undefined | null => {
    if (pathname === '/graphql' || pathname === '/graphql/') return served.size === 1 ? [...served.values()][0] : null;
    const m = /^\/graphql\/([^/]+)\/?$/.exec(pathname);
    return m ? (served.get(m[1]!) ?? null) : undefined;
  };

  // --- Running one operation -------------------------------------------------------------------

  const notBuilt = (indexer: ServedIndexer) =>
    new GraphQLError(
      indexer.lastError
        ? `the GraphQL schema of ${indexer.name} could not be built: ${indexer.lastError}`
        : `indexer ${indexer.name} has no tables in this database yet (indexer start creates them)`,
      { extensions: { code: 'NOT_READY' } },
    );

  /** Execution arguments for a prepared operation, with the context our fields and PostGraphile read. */
  const argsFor = async (version: SchemaVersion, indexer: ServedIndexer, document: import('postgraphile/graphql').DocumentNode, params: OperationParams, withPgClient: ReadTransaction['withPgClient']) => {
    const args = {
      schema: version.schema,
      document,
      rootValue: null,
      contextValue: {} as Record<string, unknown>,
      variableValues: params.variables ?? undefined,
      operationName: params.operationName ?? undefined,
      resolvedPreset: version.resolvedPreset,
      requestContext: {},
      middleware: version.middleware,
    };
    await hookArgs(args as never);
    Object.assign(args.contextValue, { withPgClient, pgSettings: null, checkpointSubscriber: indexer.subscriber });
    return args;
  };

  /** A query, in its own read-only transaction: the result as sent, and how it went. */
  const runQuery = async (indexer: ServedIndexer, params: OperationParams): Promise<{ body: Record<string, unknown>; outcome: Outcome; operation: string; refused: boolean; status?: number }> => {
    const version = indexer.current;
    if (!version) return { ...formatter.refused([notBuilt(indexer)]), operation: 'unknown', refused: true, status: 503 };
    const prepared = version.prepare(params.query, params.operationName);
    if ('errors' in prepared) return { ...formatter.refused(prepared.errors), operation: 'unknown', refused: true };
    const operation = prepared.operation.operation;
    if (operation === 'subscription') {
      const error = new GraphQLError('a subscription needs a WebSocket (graphql-ws protocol) or server-sent events (Accept: text/event-stream) on this path', { extensions: { code: 'BAD_REQUEST' } });
      return { ...formatter.refused([error]), operation, refused: true };
    }
    const limitErrors = pageSizeVariableErrors(prepared.pageVariables, params.variables);
    if (limitErrors.length > 0) return { ...formatter.refused(limitErrors), operation, refused: true };
    const transaction = new ReadTransaction(pool);
    try {
      const args = await argsFor(version, indexer, prepared.document, params, transaction.withPgClient);
      // The data as JSON text, written by grafast itself (errors stay objects): see ErrorFormatter.text.
      (args as Record<string, unknown>).outputDataAsString = true;
      const result = await execute(args as never);
      if (isAsyncIterable(result)) throw new Error('incremental delivery is not supported');
      return { ...formatter.result(result as ExecutionResult), operation, refused: false };
    } catch (error) {
      logger.warn({ indexer: indexer.name, err: redactor.redact(String((error as Error)?.message ?? error)) }, 'query failed');
      const wrapped = error instanceof GraphQLError ? error : new GraphQLError(String((error as Error)?.message ?? error), { originalError: error as Error });
      return { ...formatter.result({ errors: [wrapped] }), operation, refused: false };
    } finally {
      // Not awaited: the response need not wait for COMMIT (nothing was written); the connection
      // goes back to the pool once it is done.
      void transaction.end();
    }
  };

  // --- HTTP ---------------------------------------------------------------------------------

  const send = (res: http.ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer) => {
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  };

  const sendGraphQL = (req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, unknown>, refused: boolean, status?: number) => {
    const accept = req.headers.accept ?? '';
    const modern = accept.includes('application/graphql-response+json');
    status ??= refused && modern ? 400 : 200;
    send(res, status, { 'content-type': `${modern ? 'application/graphql-response+json' : 'application/json'}; charset=utf-8`, ...CORS }, formatter.text(body));
  };

  const ide = (req: http.IncomingMessage, res: http.ServerResponse, indexer: ServedIndexer, pathname: string) => {
    const host = req.headers.host ?? `${options.host}:${options.port}`;
    const html = ruruHTML({
      staticPath: RURU_STATIC,
      endpoint: pathname,
      subscriptionEndpoint: `ws://${host}${pathname}`,
      clientConfig: { initialQuery: indexer.current?.exampleQuery, defaultQuery: indexer.current?.exampleQuery } as never,
    });
    send(res, 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, html);
  };

  const sse = async (req: http.IncomingMessage, res: http.ServerResponse, indexer: ServedIndexer, params: OperationParams) => {
    const started = process.hrtime.bigint();
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no', ...CORS });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    const event = (name: string, data: string) => res.write(`event: ${name}\ndata: ${data}\n\n`);
    const complete = () => {
      event('complete', '');
      res.end();
    };
    const version = indexer.current;
    const prepared = version ? version.prepare(params.query, params.operationName) : { errors: [notBuilt(indexer)] };
    const limitErrors = 'errors' in prepared ? prepared.errors : pageSizeVariableErrors(prepared.pageVariables, params.variables);
    if (limitErrors.length > 0 || !version || 'errors' in prepared) {
      const refused = formatter.refused(limitErrors);
      metrics.record(indexer.name, 'sse', 'errors' in prepared ? 'unknown' : prepared.operation.operation, refused.outcome);
      event('next', stringifyExact(refused.body));
      return complete();
    }
    if (prepared.operation.operation !== 'subscription') {
      const result = await runQuery(indexer, params);
      metrics.record(indexer.name, 'sse', result.operation, result.outcome, Number(process.hrtime.bigint() - started) / 1e9);
      event('next', formatter.text(result.body));
      return complete();
    }
    const args = await argsFor(version, indexer, prepared.document, params, oneShot);
    const result = await subscribe(args as never);
    if (!isAsyncIterable(result)) {
      const formatted = formatter.result(result as ExecutionResult);
      metrics.record(indexer.name, 'sse', 'subscription', formatted.outcome);
      event('next', stringifyExact(formatted.body));
      return complete();
    }
    metrics.record(indexer.name, 'sse', 'subscription', 'ok');
    subscriptionOpened(indexer.name, 'sse', 1);
    const iterator = result as AsyncGenerator<ExecutionResult>;
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const stop = () => void iterator.return?.(undefined);
    req.on('close', stop);
    res.on('close', stop);
    try {
      for await (const item of iterator) event('next', stringifyExact(formatter.result(item).body));
      if (!res.destroyed) complete();
    } catch (error) {
      if (!res.destroyed) {
        event('next', stringifyExact(formatter.result({ errors: [new GraphQLError(redactor.redact(String((error as Error)?.message ?? error)))] }).body));
        complete();
      }
    } finally {
      clearInterval(keepalive);
      subscriptionOpened(indexer.name, 'sse', -1);
    }
  };

  const health = async (): Promise<{ ready: boolean; reason?: string }> => {
    try {
      await Promise.race([pool.query('SELECT 1'), new Promise((_, reject) => setTimeout(() => reject(new Error('PostgreSQL did not answer within 2 s')), 2_000).unref())]);
      metrics.ready.set(1);
      return { ready: true };
    } catch (error) {
      metrics.ready.set(0);
      return { ready: false, reason: `PostgreSQL: ${redactor.redact(String((error as Error)?.message ?? error))}` };
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://api.local');
    const pathname = url.pathname;
    if (pathname === '/health/live') return send(res, 200, { 'content-type': 'text/plain' }, 'ok\n');
    if (pathname === '/favicon.ico') return send(res, 204, {}, '');
    if (pathname === '/health/ready') {
      const { ready: ok, reason } = await health();
      return send(res, ok ? 200 : 503, { 'content-type': 'text/plain' }, ok ? 'ready\n' : `not ready: ${reason}\n`);
    }
    if (pathname === '/metrics') return send(res, 200, { 'content-type': metrics.registry.contentType }, await metrics.metrics());
    if (pathname.startsWith(RURU_STATIC) && req.method === 'GET') {
      const file = await getStaticFile({ staticPath: RURU_STATIC, urlPath: pathname, acceptEncoding: req.headers['accept-encoding'], disallowDevAssets: true });
      if (!file) return send(res, 404, { 'content-type': 'text/plain' }, 'not found\n');
      return send(res, 200, file.headers, file.content);
    }
    if (pathname === '/') {
      const endpoints = [...served.keys()].sort().map((name) => ({ name, graphql: `/graphql/${name}`, ready: served.get(name)!.current !== undefined }));
      return send(res, 200, { 'content-type': 'application/json; charset=utf-8', ...CORS }, JSON.stringify({ indexers: endpoints }, null, 2));
    }
    const indexer = indexerAt(pathname);
    if (indexer === undefined) return send(res, 404, { 'content-type': 'text/plain' }, `nothing at ${pathname}: GraphQL is at /graphql/<indexer name>\n`);
    if (indexer === null) {
      const known = [...served.keys()].sort();
      const message =
        pathname.startsWith('/graphql/') || known.length === 0
          ? `no indexer is served at ${pathname} (served: ${known.join(', ') || 'none yet'})`
          : `several indexers are served: use /graphql/<name> (${known.join(', ')})`;
      return send(res, 404, { 'content-type': 'application/json; charset=utf-8', ...CORS }, JSON.stringify({ errors: [{ message, extensions: { code: 'NOT_FOUND' } }] }));
    }
    if (req.method === 'OPTIONS') return send(res, 204, CORS, '');
    if (req.method !== 'GET' && req.method !== 'POST') return send(res, 405, { 'content-type': 'text/plain', allow: 'GET, POST, OPTIONS' }, 'use POST (or GET for queries)\n');
    const accept = req.headers.accept ?? '';
    if (accept.includes('text/event-stream')) return sse(req, res, indexer, await paramsOf(req, url));
    if (req.method === 'GET' && accept.includes('text/html')) return ide(req, res, indexer, pathname);
    const started = process.hrtime.bigint();
    const params = await paramsOf(req, url);
    const result = await runQuery(indexer, params);
    metrics.record(indexer.name, 'http', result.operation, result.outcome, Number(process.hrtime.bigint() - started) / 1e9);
    sendGraphQL(req, res, result.body, result.refused, result.status);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof BadRequest ? error.status : 500;
      const message = error instanceof BadRequest ? error.message : `internal error: ${redactor.redact(String((error as Error)?.message ?? error))}`;
      if (!(error instanceof BadRequest)) logger.error({ err: message }, 'request failed');
      if (res.headersSent) return res.destroy();
      send(res, status, { 'content-type': 'application/json; charset=utf-8', ...CORS }, JSON.stringify({ errors: [{ message, extensions: { code: status === 500 ? 'INTERNAL' : 'BAD_REQUEST' } }] }));
    });
  });
  server.keepAliveTimeout = 65_000;

  // --- WebSocket (graphql-ws) -----------------------------------------------------------------

  interface WsExtra {
    indexer: ServedIndexer;
    socket: WebSocket;
    transactions: Map<string, ReadTransaction>;
    /** Subscriptions streaming now (for the gauge). */
    streaming: Set<string>;
  }
  const TRANSACTION = Symbol('transaction');
  const graphqlWs = makeServer<Record<string, unknown> | undefined, WsExtra>({
    onSubscribe: async (ctx, id, payload) => {
      const { indexer } = ctx.extra;
      const version = indexer.current;
      const params: OperationParams = { query: payload.query, variables: (payload.variables as Record<string, unknown> | null | undefined) ?? null, operationName: payload.operationName ?? null };
      if (!version) return [notBuilt(indexer)];
      const prepared = version.prepare(params.query, params.operationName);
      const errors = 'errors' in prepared ? prepared.errors : pageSizeVariableErrors(prepared.pageVariables, params.variables);
      if (errors.length > 0 || 'errors' in prepared) {
        metrics.record(indexer.name, 'ws', 'errors' in prepared ? 'unknown' : prepared.operation.operation, formatter.refused(errors).outcome);
        return errors;
      }
      const isSubscription = prepared.operation.operation === 'subscription';
      const transaction = isSubscription ? undefined : new ReadTransaction(pool);
      if (transaction) ctx.extra.transactions.set(id, transaction);
      const args = await argsFor(version, indexer, prepared.document, params, transaction?.withPgClient ?? oneShot);
      (args as Record<PropertyKey, unknown>)[TRANSACTION] = { transaction, started: process.hrtime.bigint(), id, operation: prepared.operation.operation };
      return args as never;
    },
    execute: async (args) => {
      const state = (args as unknown as Record<PropertyKey, { transaction?: ReadTransaction }>)[TRANSACTION];
      try {
        return (await execute(args as never)) as never;
      } finally {
        void state?.transaction?.end();
      }
    },
    subscribe: (args) => subscribe(args as never) as never,
    onOperation: (ctx, id, _payload, args, result) => {
      const state = (args as unknown as Record<PropertyKey, { started: bigint; operation: string }>)[TRANSACTION];
      if (state && state.operation === 'subscription' && isAsyncIterable(result)) {
        metrics.record(ctx.extra.indexer.name, 'ws', 'subscription', 'ok');
        subscriptionOpened(ctx.extra.indexer.name, 'ws', 1);
        ctx.extra.streaming.add(id);
        (state as { open?: boolean }).open = true;
      }
      return undefined;
    },
    onNext: (ctx, _id, _payload, args, result) => {
      const formatted = formatter.result(result as ExecutionResult);
      const state = (args as unknown as Record<PropertyKey, { started: bigint; operation: string; open?: boolean }>)[TRANSACTION];
      if (state && !state.open) metrics.record(ctx.extra.indexer.name, 'ws', state.operation, formatted.outcome, Number(process.hrtime.bigint() - state.started) / 1e9);
      return formatted.body as FormattedExecutionResult;
    },
    onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatter.format(e)) as never,
    onComplete: (ctx, id) => {
      if (ctx.extra.streaming.delete(id)) subscriptionOpened(ctx.extra.indexer.name, 'ws', -1);
      const transaction = ctx.extra.transactions.get(id);
      ctx.extra.transactions.delete(id);
      void transaction?.end();
    },
  });
  const wsServer = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => handleProtocols(protocols), maxPayload: MAX_BODY });
  const sockets = new Set<WebSocket>();

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://api.local');
    const indexer = indexerAt(url.pathname);
    if (!indexer) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wsServer.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      const extra: WsExtra = { indexer, socket: ws, transactions: new Map(), streaming: new Set() };
      const closed = graphqlWs.opened(
        {
          protocol: ws.protocol,
          send: (data) =>
            new Promise<void>((resolve, reject) => {
              if (ws.readyState !== WebSocket.OPEN) return resolve();
              ws.send(exactJsonText(data), (error) => (error ? reject(error) : resolve()));
            }),
          close: (code, reason) => ws.close(code, reason),
          onMessage: (callback) =>
            ws.on('message', async (data) => {
              try {
                await callback(String(data));
              } catch (error) {
                ws.close(CloseCode.InternalServerError, redactor.redact(String((error as Error)?.message ?? error)).slice(0, 120));
              }
            }),
        },
        extra,
      );
      // Pings keep idle connections through proxies, and find dead peers.
      let alive = true;
      ws.on('pong', () => (alive = true));
      const pinger = setInterval(() => {
        if (!alive) return ws.terminate();
        alive = false;
        ws.ping();
      }, KEEPALIVE_MS);
      ws.once('close', (code, reason) => {
        clearInterval(pinger);
        sockets.delete(ws);
        void closed(code, String(reason));
        for (const transaction of extra.transactions.values()) void transaction.end();
        for (const _ of extra.streaming) subscriptionOpened(indexer.name, 'ws', -1);
        extra.streaming.clear();
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const baseUrl = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;

  return {
    url: baseUrl,
    port,
    metrics,
    indexers: () => [...served.keys()].sort(),
    graphqlUrl: (name) => `${baseUrl}/graphql/${name}`,
    settled: async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      await ticking;
      while (Date.now() < deadline && [...served.values()].some((i) => !i.current && !i.lastError)) {
        await new Promise((r) => setTimeout(r, 50));
        await ticking;
      }
      await notifications.ready(Math.max(0, deadline - Date.now()));
    },
    close: async () => {
      closed = true;
      clearInterval(timer);
      for (const ws of sockets) ws.terminate();
      wsServer.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await ticking.catch(() => undefined);
      await notifications.close();
      await pool.end().catch(() => undefined);
      await catalogPool.end().catch(() => undefined);
    },
  };
}
