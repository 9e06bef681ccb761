import type { EventTable } from '../abi/layout';
import { assertIdentifier, qualified, quoteIdent } from './identifiers';
import { SchemaMismatchError } from '../errors';
import { inTransaction, type Pool, type PoolClient } from './pool';

/** Bookkeeping tables; the leading underscore keeps them apart from event tables (stages add their own: their `ddl`). */
export const BOOKKEEPING = {
  checkpoints: '_checkpoints',
  blocks: '_blocks',
  ranges: '_ranges',
  reorgs: '_reorgs',
  verifications: '_verifications',
  /** Downstream stages' cursors (handlers, stream): one row per chain and stage. */
  stages: '_stages',
  /** Contracts a factory created: each child's address and the factory event that named it. */
  factoryChildren: '_factory_children',
  /** Block handlers' blocks (config `blocks`): recorded by ingest like events (indexing/interval-blocks.ts). */
  intervalBlocks: '_interval_blocks',
  /** The specs activities refer to by hash (spec.ts, SpecRef). */
  specs: '_specs',
} as const;

interface ColumnDef {
  name: string;
  sqlType: string;
  /** Missing from tables an earlier version made: added on upgrade instead of refused. */
  added?: true;
}

function eventTableColumns(table: EventTable): ColumnDef[] {
  return [...table.common, ...table.columns.map((c) => ({ name: c.name, sqlType: c.sqlType }))];
}

function bookkeepingDdl(schema: string): string[] {
  const t = (name: string) => qualified(schema, name);
  return [
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.checkpoints)} (
       chain_id bigint PRIMARY KEY,
       block_number bigint NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now())`,
    // What the read API's _meta shows besides the checkpoint (docs/api.md): the head as last seen, the workflow's mode.
    `ALTER TABLE ${t(BOOKKEEPING.checkpoints)} ADD COLUMN IF NOT EXISTS head bigint, ADD COLUMN IF NOT EXISTS mode text`,
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
    // Events each repair put right (the version that made repairs reach the stages added them).
    `ALTER TABLE ${t(BOOKKEEPING.verifications)} ADD COLUMN IF NOT EXISTS added integer NOT NULL DEFAULT 0, ADD COLUMN IF NOT EXISTS removed integer NOT NULL DEFAULT 0, ADD COLUMN IF NOT EXISTS changed integer NOT NULL DEFAULT 0`,
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
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.intervalBlocks)} (
       chain_id bigint NOT NULL,
       source text NOT NULL,
       block_number bigint NOT NULL,
       block_hash text NOT NULL,
       block_timestamp timestamptz NOT NULL,
       PRIMARY KEY (chain_id, block_number, source))`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.specs)} (
       hash text PRIMARY KEY,
       spec jsonb NOT NULL,
       stored_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE IF NOT EXISTS ${t(BOOKKEEPING.factoryChildren)} (
       chain_id bigint NOT NULL,
       contract text NOT NULL,
       address text NOT NULL,
       block_number bigint NOT NULL,
       log_index integer NOT NULL,
       PRIMARY KEY (chain_id, contract, address))`,
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

/**
 * An existing table must hold every column the event needs, with its type. Columns newer than the
 * table (block and transaction fields, docs/tables.md) are added at its end: rows stored before the
 * upgrade have NULL there. Columns the table has beyond those are left alone (NULL from now on).
 */
async function upgradeEventTable(client: PoolClient, schema: string, table: EventTable): Promise<void> {
  const expected = eventTableColumns(table);
  const actual = new Map((await existingColumns(client, schema, table.table)).map((c) => [c.name, c.sqlType]));
  const wrong = expected.filter((c) => (actual.has(c.name) ? actual.get(c.name) !== c.sqlType : !c.added));
  if (wrong.length > 0) {
    const have = [...actual].map(([name, sqlType]) => ({ name, sqlType }));
    throw new SchemaMismatchError(
      `table ${schema}.${table.table} exists with columns (${describe(have)}) but ${table.contract}.${table.signature} needs (${describe(expected)}): drop the table or use another indexer name`,
    );
  }
  const missing = expected.filter((c) => !actual.has(c.name));
  if (missing.length > 0) {
    await client.query(`ALTER TABLE ${qualified(schema, table.table)} ${missing.map((c) => `ADD COLUMN ${quoteIdent(c.name)} ${c.sqlType}`).join(', ')}`);
  }
}

function describe(columns: ColumnDef[]): string {
  return columns.map((c) => `${c.name} ${c.sqlType}`).join(', ');
}

/**
 * Creates the schema, bookkeeping and event tables if missing. Idempotent, and safe when several
 * workflows (one per chain) prepare the same schema at once: an advisory lock serialises them.
 * An existing event table whose columns differ is an error, never altered silently. `stageDdl` is
 * the stages' own bookkeeping (stages/runtime.ts, `ddl`); `then` runs in the same transaction (the
 * stages' prepare: the handlers' setup): if it fails, nothing at all was created.
 */
export async function ensureSchema(
  pool: Pool,
  schema: string,
  tables: readonly EventTable[],
  options: { stageDdl?: readonly string[]; then?: (client: PoolClient) => Promise<void> } = {},
): Promise<void> {
  assertIdentifier(schema);
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`temporal-evm-indexer:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    for (const ddl of [...bookkeepingDdl(schema), ...(options.stageDdl ?? [])]) await client.query(ddl);
    for (const table of tables) {
      await client.query(eventTableDdl(schema, table));
      await upgradeEventTable(client, schema, table);
    }
    await options.then?.(client);
  });
}
