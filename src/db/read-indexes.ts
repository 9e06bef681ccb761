import { createHash } from 'node:crypto';
import type { EventTable } from '../abi/layout';
import { MAX_IDENTIFIER_LENGTH } from '../abi/naming';
import { qualified, quoteIdent } from './identifiers';
import type { Pool } from './pool';

/**
 * Indexes for the reads users make through the read API (docs/api.md, "Indexed filters"): on every
 * event table, `block_number` and each indexed event argument's column (what a log's topics carry:
 * the filters an application asks for, `from`, `to`, an id). Built once the backfill is over, with
 * CREATE INDEX CONCURRENTLY: ingest never writes behind them during the backfill, and nothing waits
 * for them meanwhile. Idempotent; an index a crash left invalid is dropped and built again.
 */
export async function createReadIndexes(pool: Pool, schema: string, tables: readonly EventTable[]): Promise<string[]> {
  const built: string[] = [];
  for (const table of tables) {
    const columns = ['block_number', ...table.columns.filter((c) => c.param.indexed).map((c) => c.name)];
    for (const column of columns) {
      const name = indexName(table.table, column);
      const { rows } = await pool.query<{ valid: boolean }>(
        `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
        [schema, name],
      );
      if (rows[0]?.valid) continue;
      if (rows[0]) await pool.query(`DROP INDEX CONCURRENTLY IF EXISTS ${qualified(schema, name)}`);
      await pool.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent(name)} ON ${qualified(schema, table.table)} (${quoteIdent(column)})`);
      built.push(name);
    }
  }
  return built;
}

/** `<table>_<column>_read`, shortened with a hash of the whole where PostgreSQL's 63 characters would cut it. */
function indexName(table: string, column: string): string {
  const name = `${table}_${column}_read`;
  if (name.length <= MAX_IDENTIFIER_LENGTH) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_IDENTIFIER_LENGTH - 9)}_${hash}`;
}
