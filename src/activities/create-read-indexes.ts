import { createReadIndexes as createInDatabase } from '../db/read-indexes';
import type { ActivityEnv } from './env';
import type { CreateReadIndexesInput, CreateReadIndexesResult } from './types';

/** The read API's indexes on the event tables, once the backfill is over (db/read-indexes.ts). */
export async function createReadIndexes(env: ActivityEnv, { spec }: CreateReadIndexesInput): Promise<CreateReadIndexesResult> {
  const started = Date.now();
  const built = await createInDatabase(env.pool, spec.name, env.routerFor(spec).tables);
  if (built.length > 0) env.log().info({ built, durationMs: Date.now() - started }, 'read indexes built');
  return { built: built.length };
}
