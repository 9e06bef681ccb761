import { apiEnv, requireDatabaseUrl } from '../env';
import { CliError } from '../errors';
import { isIdentifier } from '../db/identifiers';
import { createLogger } from '../logger';

/**
 * The API server, with the Promise.withResolvers polyfill (and GRAPHILE_ENV) in place before
 * PostGraphile loads: in the compiled CLI a static import would evaluate the external packages of
 * the server's chunk before the polyfill bundled into it, so the polyfill is its own chunk, loaded first.
 */
export async function loadApiServer(): Promise<typeof import('../api/server')> {
  await import('../api/polyfill');
  return import('../api/server');
}

export interface ServeOptions {
  port?: number;
  host?: string;
}

/**
 * `indexer serve [name…]`: the GraphQL read API (docs/api.md) until SIGINT/SIGTERM. It reads
 * PostgreSQL only (DATABASE_URL), so any number of copies can run beside the workers.
 */
export async function serveCommand(names: string[], options: ServeOptions): Promise<void> {
  const databaseUrl = requireDatabaseUrl('serve', '');
  const env = apiEnv();
  for (const name of names) {
    if (!isIdentifier(name)) throw new CliError(`"${name}" is not an indexer name (lowercase letters, digits and _, starting with a letter)`);
  }
  const logger = createLogger({ name: 'api' });
  const { startApiServer } = await loadApiServer();
  const port = options.port ?? env.port;
  const host = options.host ?? env.host;
  let api;
  try {
    api = await startApiServer({ databaseUrl, port, host, statementTimeoutMs: env.statementTimeoutMs, indexers: names, logger });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${port} on ${host} is taken: choose another with --port or API_PORT`);
    if (code === 'EADDRNOTAVAIL') throw new CliError(`cannot listen on ${host}: no such address here (--host or API_HOST)`);
    throw error;
  }
  await api.settled(10_000);
  const served = api.indexers();
  const endpoints = served.length > 0 ? served.map((name) => `  ${api.graphqlUrl(name)}`).join('\n') : `  none yet: ${names.length > 0 ? names.join(', ') : 'indexers'} appear as their tables are created`;
  process.stdout.write(`GraphQL API on ${api.url} (IDE: open a GraphQL URL in a browser)\n${endpoints}\n`);
  logger.info({ url: api.url, indexers: served }, 'serving');

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info({}, 'shutting down');
  await api.close();
}
