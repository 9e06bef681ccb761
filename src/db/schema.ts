import { COMMON_COLUMNS, type EventTable } from '../abi/layout';
import { assertIdentifier, qualified, quoteIdent } from './identifiers';
import { SchemaMismatchError } from '../errors';
import { inTransaction, type Pool, type PoolClient } from './pool';
import { undoCaptureDdl } from './undo-log';

/** Bookkeeping tables; the leading underscore keeps them apart from event tables. */
export const BOOKKEEPING = {
  checkpoints: '_checkpoints',
  blocks: '_blocks',
  ranges: '_ranges',
  reorgs: '_reorgs',
  verifications: '_verifications',
  /** Downstream stages' cursors (handlers, stream): one row per chain and stage. */
  stages: '_stages',
  /** Every change handlers made to derived tables, by block, so a rollback can undo it. */
  undoLog: '_undo_log',
  /** The stream stage: which stream each chain publishes to, and the last stream sequence accounted for. */
  stream: '_stream',
  /** Retractions a rollback owes the stream, until they are published. */
  streamOutbox: '_stream_outbox',
} as const;

interface ColumnDef {
  name: string;
  sqlType: string;
}

function eventTableColumns(table: EventTable): ColumnDef[] {
  return [...COMMON_COLUMNS, ...table.columns.map((c) => ({ name: c.name, sqlType: c.sqlType }))];
}

function bookkeepingDdl(schema: string): string[] {
  const t = (name: string) => qualified(schema, name);
  return [
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.checkpoints)} (
       chain_id bigint PRIMARY KEY,
       block_number bigint NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.blocks)} (
       chain_id bigint NOT NULL,
       block_number bigint NOT NULL,
       block_hash text NOT NULL,
       parent_hash text,
       PRIMARY KEY (chain_id, block_number))`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.ranges)} (
       chain_id bigint NOT NULL,
       from_block bigint NOT NULL,
       to_block bigint NOT NULL,
       logs integer NOT NULL,
       completed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
       PRIMARY KEY (chain_id, from_block))`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.reorgs)} (
       id bigserial PRIMARY KEY,
       chain_id bigint NOT NULL,
       detected_at timestamptz NOT NULL DEFAULT now(),
       detected_block bigint NOT NULL,
       common_ancestor bigint NOT NULL,
       depth integer NOT NULL,
       old_hash text,
       new_hash text,
       rows_deleted bigint NOT NULL DEFAULT 0,
       reason text NOT NULL DEFAULT 'reorg',
       key text UNIQUE)`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.verifications)} (
       id bigserial PRIMARY KEY,
       chain_id bigint NOT NULL,
       started_at timestamptz NOT NULL,
       finished_at timestamptz NOT NULL DEFAULT now(),
       from_block bigint NOT NULL,
       to_block bigint NOT NULL,
       chunks integer NOT NULL,
       mismatches integer NOT NULL,
       repaired integer NOT NULL,
       details jsonb)`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.stages)} (
       chain_id bigint NOT NULL,
       stage text NOT NULL,
       block_number bigint NOT NULL,
       log_index integer NOT NULL,
       undo_from bigint NOT NULL,
       rebuild_id text,
       setup_pending boolean NOT NULL DEFAULT false,
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (chain_id, stage))`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.undoLog)} (
       id bigserial PRIMARY KEY,
       chain_id bigint NOT NULL,
       block_number bigint NOT NULL,
       table_name text NOT NULL,
       op char(1) NOT NULL,
       old_row jsonb,
       new_row jsonb)`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${BOOKKEEPING.undoLog}_block`)} ON ${t(BOOKKEEPING.undoLog)} (chain_id, block_number)`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.stream)} (
       chain_id bigint PRIMARY KEY,
       stream text NOT NULL,
       stream_created text NOT NULL,
       subject text NOT NULL,
       seq bigint NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.streamOutbox)} (
       chain_id bigint NOT NULL,
       msg_id text NOT NULL,
       block_number bigint NOT NULL,
       log_index integer NOT NULL,
       subject text NOT NULL,
       body text NOT NULL,
       PRIMARY KEY (chain_id, msg_id))`,
    ...undoCaptureDdl(schema),
  ];
}

function eventTableDdl(schema: string, table: EventTable): string {
  const cols = eventTableColumns(table).map((c) => `${quoteIdent(c.name)} ${c.sqlType}${isKey(c.name) ? ' NOT NULL' : ''}`);
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema, table.table)} (
    ${cols.join(',\n    ')},
    PRIMARY KEY (chain_id, block_number, log_index))`;
}

function isKey(column: string): boolean {
  return column === 'chain_id' || column === 'block_number' || column === 'log_index';
}

async function existingColumns(client: PoolClient, schema: string, table: string): Promise<ColumnDef[]> {
  const { rows } = await client.query<{ name: string; sql_type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS sql_type
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [schema, table],
  );
  return rows.map((r) => ({ name: r.name, sqlType: r.sql_type }));
}

function describe(columns: ColumnDef[]): string {
  return columns.map((c) => `${c.name} ${c.sqlType}`).join(', ');
}

/**
 * Creates the schema, bookkeeping and event tables if missing. Idempotent, and safe when several
 * workflows (one per chain) prepare the same schema at once: an advisory lock serialises them.
 * An existing event table whose columns differ is an error, never altered silently. `then` runs
 * in the same transaction (the handlers' setup): if it fails, nothing at all was created.
 */
export async function ensureSchema(pool: Pool, schema: string, tables: EventTable[], then?: (client: PoolClient) => Promise<void>): Promise<void> {
  assertIdentifier(schema);
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`temporal-evm-indexer:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    for (const ddl of bookkeepingDdl(schema)) await client.query(ddl);
    for (const table of tables) {
      await client.query(eventTableDdl(schema, table));
      const expected = eventTableColumns(table);
      const actual = await existingColumns(client, schema, table.table);
      if (describe(actual) !== describe(expected)) {
        throw new SchemaMismatchError(
          `table ${schema}.${table.table} exists with columns (${describe(actual)}) but ${table.contract}.${table.signature} needs (${describe(expected)}): drop the table or use another indexer name`,
        );
      }
    }
    await then?.(client);
  });
}
