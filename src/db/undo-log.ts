import { qualified, quoteIdent } from './identifiers';
import type { PoolClient } from './pool';

/**
 * Reorg safety for whatever SQL handlers run: a row trigger on every derived table copies each
 * insert, update and delete into `_undo_log` with the block of the event being handled (set per
 * transaction with `set_config('indexer.block', …)`), and a rollback replays the log backwards.
 * Triggers, like Ponder's shadow tables, because they see every change in the same transaction
 * (statements, functions, cascades), where wrapping `db.query` would only see the SQL text. Rows
 * are found again by primary key (or, without one, by whole-row equality), and restored from the
 * JSON images, which keep numeric(78,0) and every other type exact.
 */

const UNDO_LOG = '_undo_log';
const CAPTURE = '_undo_capture';
const REFUSE_TRUNCATE = '_undo_refuse_truncate';

/** The settings the capture trigger reads: the chain and block of the event being handled. */
export const HANDLED_BLOCK_SETTING = 'indexer.block';
export const HANDLED_CHAIN_SETTING = 'indexer.chain_id';

/** The trigger functions, created with the bookkeeping tables. Changes made outside a handler (setup, rollbacks) are not recorded. */
export function undoCaptureDdl(schema: string): string[] {
  return [
    `CREATE OR REPLACE FUNCTION ${qualified(schema, CAPTURE)}() RETURNS trigger LANGUAGE plpgsql AS $body$
     DECLARE
       block text := current_setting('${HANDLED_BLOCK_SETTING}', true);
     BEGIN
       IF block IS NULL OR block = '' THEN RETURN NULL; END IF;
       INSERT INTO ${qualified(schema, UNDO_LOG)} (chain_id, block_number, table_name, op, old_row, new_row)
       VALUES (current_setting('${HANDLED_CHAIN_SETTING}')::bigint, block::bigint, TG_TABLE_NAME, left(TG_OP, 1),
               CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
       RETURN NULL;
     END $body$`,
    `CREATE OR REPLACE FUNCTION ${qualified(schema, REFUSE_TRUNCATE)}() RETURNS trigger LANGUAGE plpgsql AS $body$
     BEGIN
       IF coalesce(current_setting('${HANDLED_BLOCK_SETTING}', true), '') <> '' THEN
         RAISE EXCEPTION 'TRUNCATE of %.% in a handler cannot be undone on a reorg: use DELETE', TG_TABLE_SCHEMA, TG_TABLE_NAME;
       END IF;
       RETURN NULL;
     END $body$`,
  ];
}

/** The tables `c` of schema $1 that handlers own: neither event tables ($2) nor bookkeeping (`_…`). */
const DERIVED_TABLES = `pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND left(c.relname, 1) <> '_' AND NOT (c.relname = ANY($2::text[]))`;

/** Tables in the schema that handlers own: neither event tables nor bookkeeping (`_…`). */
export async function derivedTables(client: PoolClient, schema: string, eventTables: readonly string[]): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(`SELECT c.relname AS name FROM ${DERIVED_TABLES} ORDER BY c.relname`, [schema, eventTables]);
  return rows.map((r) => r.name);
}

/** Derived tables without the capture trigger (made by setup, or by a handler since): one catalog query, issued with a batch's first statements. */
export async function derivedTablesWithoutUndoTriggers(client: PoolClient, schema: string, eventTables: readonly string[]): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM ${DERIVED_TABLES} AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = $3) ORDER BY c.relname`,
    [schema, eventTables, CAPTURE],
  );
  return rows.map((r) => r.name);
}

/** Puts the capture triggers on derived tables that lack them (tables made by setup, or by a handler since). */
export async function installUndoTriggers(client: PoolClient, schema: string, eventTables: readonly string[]): Promise<void> {
  await addUndoTriggers(client, schema, await derivedTablesWithoutUndoTriggers(client, schema, eventTables));
}

/** Puts the capture triggers on these tables (found by `derivedTablesWithoutUndoTriggers`). */
export async function addUndoTriggers(client: PoolClient, schema: string, tables: readonly string[]): Promise<void> {
  for (const table of tables) {
    await client.query(`CREATE TRIGGER ${quoteIdent(CAPTURE)} AFTER INSERT OR UPDATE OR DELETE ON ${qualified(schema, table)} FOR EACH ROW EXECUTE FUNCTION ${qualified(schema, CAPTURE)}()`);
    await client.query(`CREATE TRIGGER ${quoteIdent(REFUSE_TRUNCATE)} BEFORE TRUNCATE ON ${qualified(schema, table)} FOR EACH STATEMENT EXECUTE FUNCTION ${qualified(schema, REFUSE_TRUNCATE)}()`);
  }
}

/** Marks the changes that follow as made by the handler of an event in `block` (null: not recorded). */
export async function setHandledBlock(client: PoolClient, chainId: number, block: number | null): Promise<void> {
  await client.query(`SELECT set_config($1, $2, true), set_config($3, $4, true)`, [HANDLED_BLOCK_SETTING, block === null ? '' : String(block), HANDLED_CHAIN_SETTING, String(chainId)]);
}

/** How to find a table's row again: its primary key columns, or every column when it has none. */
async function rowKey(client: PoolClient, schema: string, table: string): Promise<string[] | null> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
      WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
    [schema, table],
  );
  return rows.length > 0 ? rows.map((r) => r.name) : null;
}

/**
 * Undoes, newest first, every change handlers made for the chain's blocks above `ancestor`, and
 * forgets those records. Runs inside the rollback's transaction; the changes it makes are not
 * recorded themselves (no handled block is set). Returns how many changes were undone.
 */
export async function undoAbove(client: PoolClient, schema: string, chainId: number, ancestor: number): Promise<number> {
  await setHandledBlock(client, chainId, null);
  const { rows } = await client.query<{ id: string; table_name: string; op: 'I' | 'U' | 'D'; old_row: unknown; new_row: unknown }>(
    `DELETE FROM ${qualified(schema, UNDO_LOG)} WHERE chain_id = $1 AND block_number > $2 RETURNING id, table_name, op, old_row, new_row`,
    [chainId, ancestor],
  );
  rows.sort((a, b) => Number(b.id) - Number(a.id));
  const tables = new Map<string, { key: string[] | null; columns: string }>();
  for (const change of rows) {
    const table = change.table_name;
    if (!tables.has(table)) tables.set(table, { key: await rowKey(client, schema, table), columns: await columnList(client, schema, table) });
    const { key, columns } = tables.get(table)!;
    const target = qualified(schema, table);
    const image = (json: unknown) => `jsonb_populate_record(NULL::${target}, ${json})`;
    // The row as the change left it: by key, or (no key) by every column, one row of identical ones.
    const match = key
      ? `(${key.map(quoteIdent).join(', ')}) = (SELECT ${key.map(quoteIdent).join(', ')} FROM ${image('$1::jsonb')})`
      : `ctid = (SELECT ctid FROM ${target} AS _undo_row WHERE _undo_row IS NOT DISTINCT FROM ${image('$1::jsonb')} LIMIT 1)`;
    if (change.op === 'I') {
      await client.query(`DELETE FROM ${target} WHERE ${match}`, [JSON.stringify(change.new_row)]);
    } else if (change.op === 'U') {
      await client.query(`UPDATE ${target} SET (${columns}) = (SELECT ${columns} FROM ${image('$2::jsonb')}) WHERE ${match}`, [
        JSON.stringify(change.new_row),
        JSON.stringify(change.old_row),
      ]);
    } else {
      await client.query(`INSERT INTO ${target} SELECT * FROM ${image('$1::jsonb')}`, [JSON.stringify(change.old_row)]);
    }
  }
  return rows.length;
}

/** The table's columns in order, quoted, for `UPDATE … SET (cols) = (SELECT cols …)`. */
async function columnList(client: PoolClient, schema: string, table: string): Promise<string> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, table],
  );
  return rows.map((r) => quoteIdent(r.name)).join(', ');
}

/** Forgets the records of blocks at or below `block`: no rollback can reach them any more. */
export async function trimUndoLog(client: PoolClient, schema: string, chainId: number, block: number): Promise<void> {
  await client.query(`DELETE FROM ${qualified(schema, UNDO_LOG)} WHERE chain_id = $1 AND block_number <= $2`, [chainId, block]);
}
