import type pg from 'pg';
import { BOOKKEEPING } from '../db/schema';

/**
 * What the API reads of PostgreSQL's catalog: which schemas are indexers' (those with a
 * `_checkpoints` table), and a fingerprint of each one's tables, columns and keys. The GraphQL
 * schema is built again when the fingerprint changes: a handlers' `setup` creating or altering a
 * table, `indexer rebuild` re-creating one, the indexer's own upgrades.
 */

/** Every indexer schema in the database. */
export async function indexerSchemas(pool: Pick<pg.Pool, 'query'>): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT n.nspname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`,
    [BOOKKEEPING.checkpoints],
  );
  return rows.map((r) => r.name);
}

/**
 * A digest of what the GraphQL schema is made of: every table's and view's columns (name, type,
 * nullability), keys and foreign keys, and the schema's own types (enums, composites, domains).
 * Indexes are left out: the schema does not depend on them (filters and orderBy are on every column).
 * Null when the schema is no indexer's (yet).
 */
export async function schemaFingerprint(pool: Pick<pg.Pool, 'query'>, schema: string): Promise<string | null> {
  const { rows } = await pool.query<{ fingerprint: string | null; checkpoints: boolean }>(
    `WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
     SELECT md5(string_agg(item, E'\\n' ORDER BY item)) AS fingerprint,
            EXISTS (SELECT 1 FROM pg_class c, ns WHERE c.relnamespace = ns.oid AND c.relname = $2) AS checkpoints
       FROM (
         SELECT concat_ws(' ', 'column', c.relname, c.relkind, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull) AS item
           FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
         UNION ALL
         SELECT concat_ws(' ', 'constraint', k.conrelid::regclass::text, k.conname, k.contype, pg_get_constraintdef(k.oid))
           FROM pg_constraint k JOIN ns ON k.connamespace = ns.oid
          WHERE k.contype IN ('p', 'u', 'f')
         UNION ALL
         SELECT concat_ws(' ', 'type', t.typname, t.typtype,
                          (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
           FROM pg_type t JOIN ns ON t.typnamespace = ns.oid
          WHERE t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
       ) items`,
    [schema, BOOKKEEPING.checkpoints],
  );
  const row = rows[0];
  return row && row.checkpoints ? row.fingerprint : null;
}
