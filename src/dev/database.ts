import { postgresDataDir, startEmbeddedPostgres } from './postgres';
import { DEV_STATE_DIR } from '../env';

export const EMBEDDED_POSTGRES_PORT = 54329;

export interface Database {
  url: string;
  embedded: boolean;
  stop: () => Promise<void>;
}

/**
 * `url` (the caller's DATABASE_URL) when given; otherwise an embedded PostgreSQL, so a fresh
 * machine needs nothing installed. Only `indexer dev`, tests and an explicit opt-in get here
 * without a URL: a production worker must not quietly write to a private database.
 */
export async function resolveDatabase(options: { url?: string; port?: number; stateDir?: string; log?: (line: string) => void } = {}): Promise<Database> {
  const url = options.url;
  if (url) return { url, embedded: false, stop: async () => undefined };
  const port = options.port ?? EMBEDDED_POSTGRES_PORT;
  const pg = await startEmbeddedPostgres({ port, dataDir: postgresDataDir(options.stateDir ?? DEV_STATE_DIR), log: options.log });
  return { url: pg.url, embedded: true, stop: pg.stop };
}
