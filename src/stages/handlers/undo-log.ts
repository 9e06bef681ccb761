import { qualified, quoteIdent } from '../../db/identifiers';
import type { PoolClient } from '../../db/pool';

/**
 * Reorg safety for whatever SQL handlers run: a row trigger on every derived table copies each
 * insert, update and delete into `_undo_log` with the block of the event being handled (set per
 * transaction with `set_config('indexer.block', …)`), and a rollback replays the log backwards.
 * Triggers, like Ponder's shadow tables, because they see every change in the same transaction
 * (statements, functions, cascades), where wrapping `db.query` would only see the SQL text.
 *
 * The row images are `json` (`to_json(OLD)`), not `jsonb`: json keeps each value's own text
 * (numeric digits and scale, float8's -0, a json column's spacing and key order), so turning an
 * image back into a row with `json_populate_record` gives every column type back bit-exact. The
 * replay runs inside PostgreSQL (`_undo_replay`): no image is ever parsed in JavaScript, where a
 * number above 2^53 would be rounded.
 */

/** Every change handlers made to derived tables, by block, so a rollback can undo it. */
export const UNDO_LOG = '_undo_log';
const CAPTURE = '_undo_capture';
const REFUSE_TRUNCATE = '_undo_refuse_truncate';
const REPLAY = '_undo_replay';

/** The settings the capture trigger reads: the chain and block of the event being handled. */
export const HANDLED_BLOCK_SETTING = 'indexer.block';
export const HANDLED_CHAIN_SETTING = 'indexer.chain_id';

/**
 * The undo log, its trigger functions and the replay, created with the bookkeeping tables (the
 * stage's `ddl`). Changes made outside a handler (setup, rollbacks) are not recorded.
 */
export function undoLogDdl(schema: string): string[] {
  const log = qualified(schema, UNDO_LOG);
  return [
    `CREATE TABLE IF NOT EXISTS ${log} (
       id bigserial PRIMARY KEY,
       chain_id bigint NOT NULL,
       block_number bigint NOT NULL,
       table_name text NOT NULL,
       op char(1) NOT NULL,
       old_row json,
       new_row json)`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${UNDO_LOG}_block`)} ON ${log} (chain_id, block_number)`,
    // Undo logs written by versions before json images hold jsonb: its values are what they are,
    // and json images are written from now on.
    `DO $migrate$ BEGIN
       IF (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = to_regclass(${literal(log)}) AND a.attname = 'old_row') = 'jsonb'::regtype THEN
         ALTER TABLE ${log} ALTER COLUMN old_row TYPE json, ALTER COLUMN new_row TYPE json;
       END IF;
     END $migrate$`,
    `CREATE OR REPLACE FUNCTION ${qualified(schema, CAPTURE)}() RETURNS trigger LANGUAGE plpgsql AS $body$
     DECLARE
       block text := current_setting('${HANDLED_BLOCK_SETTING}', true);
     BEGIN
       IF block IS NULL OR block = '' THEN RETURN NULL; END IF;
       INSERT INTO ${log} (chain_id, block_number, table_name, op, old_row, new_row)
       VALUES (current_setting('${HANDLED_CHAIN_SETTING}')::bigint, block::bigint, TG_TABLE_NAME, left(TG_OP, 1),
               CASE WHEN TG_OP <> 'INSERT' THEN to_json(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_json(NEW) END);
       RETURN NULL;
     END $body$`,
    `CREATE OR REPLACE FUNCTION ${qualified(schema, REFUSE_TRUNCATE)}() RETURNS trigger LANGUAGE plpgsql AS $body$
     BEGIN
       IF coalesce(current_setting('${HANDLED_BLOCK_SETTING}', true), '') <> '' THEN
         RAISE EXCEPTION 'TRUNCATE of %.% in a handler cannot be undone on a reorg: use DELETE', TG_TABLE_SCHEMA, TG_TABLE_NAME;
       END IF;
       RETURN NULL;
     END $body$`,
    replayDdl(schema),
  ];
}

/**
 * `_undo_replay(chain, ancestor)`: undoes, newest first, every change recorded for the chain's
 * blocks above `ancestor`, forgets those records, and returns how many it undid. Per table, three
 * statements are built once from the catalog, with the images as their parameters ($1 the row as
 * the change left it, $2 as it was before):
 * - the row is found again by its primary key, or, in a table without one, as one row whose whole
 *   text equals the image's (text, because a json column has no equality operator);
 * - generated columns are left to PostgreSQL, and identity columns are restored as they were.
 */
function replayDdl(schema: string): string {
  return `CREATE OR REPLACE FUNCTION ${qualified(schema, REPLAY)}(p_chain bigint, p_ancestor bigint) RETURNS bigint LANGUAGE plpgsql AS $body$
  DECLARE
    change record;
    statements jsonb := '{}';
    shape record;
    target text;
    image_after text;
    image_before text;
    found_again text;
    undone bigint := 0;
  BEGIN
    PERFORM set_config('${HANDLED_BLOCK_SETTING}', '', true); -- the undoing is not recorded itself
    FOR change IN SELECT id, table_name, op, old_row, new_row FROM ${qualified(schema, UNDO_LOG)}
                   WHERE chain_id = p_chain AND block_number > p_ancestor ORDER BY id DESC LOOP
      IF NOT statements ? change.table_name THEN
        target := format('%I.%I', ${literal(schema)}, change.table_name);
        SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum) FILTER (WHERE a.attgenerated = '') AS inserted,
               string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum) FILTER (WHERE a.attgenerated = '' AND a.attidentity <> 'a') AS updated,
               (SELECT string_agg(format('%I', k.attname), ', ' ORDER BY array_position(i.indkey, k.attnum))
                  FROM pg_index i JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = ANY(i.indkey)
                 WHERE i.indrelid = target::regclass AND i.indisprimary) AS key
          INTO shape
          FROM pg_attribute a WHERE a.attrelid = target::regclass AND a.attnum > 0 AND NOT a.attisdropped;
        image_after := format('json_populate_record(NULL::%s, $1)', target);
        image_before := format('json_populate_record(NULL::%s, $2)', target);
        found_again := CASE WHEN shape.key IS NOT NULL
          THEN format('(%s) = (SELECT %s FROM %s)', shape.key, shape.key, image_after)
          ELSE format('ctid = (SELECT r.ctid FROM %s AS r WHERE ROW(r.*)::text = (SELECT ROW(i.*)::text FROM %s AS i) LIMIT 1)', target, image_after) END;
        statements := statements || jsonb_build_object(change.table_name, jsonb_build_object(
          'I', format('DELETE FROM %s WHERE %s', target, found_again),
          'U', format('UPDATE %s SET (%s) = (SELECT %s FROM %s) WHERE %s', target, shape.updated, shape.updated, image_before, found_again),
          'D', format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s', target, shape.inserted, shape.inserted, image_before)));
      END IF;
      EXECUTE statements -> change.table_name ->> change.op USING change.new_row, change.old_row;
      undone := undone + 1;
    END LOOP;
    DELETE FROM ${qualified(schema, UNDO_LOG)} WHERE chain_id = p_chain AND block_number > p_ancestor;
    RETURN undone;
  END $body$`;
}

/** A string as an SQL literal (for names built into DDL text, already checked as identifiers). */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
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

/**
 * Undoes, newest first, every change handlers made for the chain's blocks above `ancestor`, and
 * forgets those records. Runs inside the rollback's transaction, entirely in PostgreSQL
 * (`_undo_replay`); the changes it makes are not recorded themselves. Returns how many changes
 * were undone.
 */
export async function undoAbove(client: PoolClient, schema: string, chainId: number, ancestor: number): Promise<number> {
  const { rows } = await client.query<{ undone: string }>(`SELECT ${qualified(schema, REPLAY)}($1, $2) AS undone`, [chainId, ancestor]);
  return Number(rows[0]!.undone);
}

/** Forgets the records of blocks at or below `block`: no rollback can reach them any more. */
export async function trimUndoLog(client: PoolClient, schema: string, chainId: number, block: number): Promise<void> {
  await client.query(`DELETE FROM ${qualified(schema, UNDO_LOG)} WHERE chain_id = $1 AND block_number <= $2`, [chainId, block]);
}
