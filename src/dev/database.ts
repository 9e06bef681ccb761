import { postgresDataDir, startEmbeddedPostgres } from './postgres';

export const EMBEDDED_POSTGRES_PORT = 54329;

export interface Database {
  url: string;
  embedded: boolean;
  stop: () => Promise<void>;
}

/** `DATABASE_URL` when set; otherwise an embedded PostgreSQL, so a fresh machine needs nothing installed. */
export async function resolveDatabase(options: { port?: number; stateDir?: string; log?: (line: string) => void } = {}): Promise<Database> {
  const url = process.env.DATABASE_URL;
  if (url) return { url, embedded: false, stop: async () => undefined };
  const port = options.port ?? EMBEDDED_POSTGRES_PORT;
  const pg = await startEmbeddedPostgres({ port, dataDir: postgresDataDir(options.stateDir ?? '.indexer'), log: options.log });
  return { url: pg.url, embedded: true, stop: pg.stop };
}
