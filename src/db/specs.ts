import type { IndexerSpec } from '../spec';
import { qualified } from './identifiers';
import type { Queryable } from './pool';
import { BOOKKEEPING } from './schema';

/** Stores a spec under its hash (once). */
export async function storeSpec(db: Queryable, spec: IndexerSpec, hash: string): Promise<void> {
  await db.query(`INSERT INTO ${qualified(spec.name, BOOKKEEPING.specs)} (hash, spec) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING`, [hash, JSON.stringify(spec)]);
}

export async function loadSpec(db: Queryable, schema: string, hash: string): Promise<IndexerSpec | undefined> {
  const { rows } = await db.query<{ spec: IndexerSpec }>(`SELECT spec FROM ${qualified(schema, BOOKKEEPING.specs)} WHERE hash = $1`, [hash]);
  return rows[0]?.spec;
}
