import { isIdentifier, qualified, quoteIdent } from '../../db/identifiers';
import type { PoolClient } from '../../db/pool';
import { HANDLER_TYPES, toDatabaseJson } from './values';

/**
 * `store`: rows of derived tables by primary key, for handlers that update the same rows over and
 * over (balances, positions, counters). A change is kept in memory and written when the batch
 * needs it in the table: at the end of the batch, before a raw `db.query`, and before the undo
 * log's block mark moves (near the head, once per block). So a row changed by 2,000 events of a
 * batch is written once, and a flush is one statement per table and column set instead of one per
 * change: PostgreSQL's per-statement cost and a hot row's pile of dead versions are what bound a
 * handler that upserts per event. Changes whose row is not in memory wait, and the flush reads all
 * such rows of a table in one query before applying them in order.
 */

export type Row = Record<string, unknown>;

/** What a change returns: columns to set (merged into the row, or a new row with the key), null to delete the row, undefined to leave it. */
export type Change<R extends Row = Row> = (row: R | undefined) => Partial<R> | Row | null | undefined;

/** The handler's `store`. */
export interface HandlerStore {
  /** The row with this primary key as the handlers' changes so far make it, or undefined. */
  get<R extends Row = Row>(table: string, key: Row): Promise<R | undefined>;
  /** Applies `change` to the row in order with every other change of this batch (now if the row is in memory, else at the next flush). */
  update<R extends Row = Row>(table: string, key: Row, change: Change<R>): void;
  /** Sets these columns (inserting the row if there is none). */
  set(table: string, key: Row, values: Row): void;
  delete(table: string, key: Row): void;
}

/** A failure of the store, and the event it belongs to when that is known (a flush that writes several events' rows is ambiguous). */
export interface StoreFailure {
  eventIndex: number | undefined;
  error: unknown;
}

export class StoreError extends Error {}

interface ColumnShape {
  /** int8 and integral numeric come back from pg as strings: the store gives them as bigint. */
  integer: 'always' | 'when-integral' | 'no';
  /** json or jsonb: the value is written as JSON itself (a bigint in it as a JSON number), not as a column's text. */
  json: boolean;
}

interface TableShape {
  table: string;
  columns: Map<string, ColumnShape>;
  key: string[];
  /** Upsert column lists by the changed columns in the order a row lists them: sorted, one array per set. */
  columnLists: ColumnList[];
}

/**
 * The events whose changes a write carries: the earliest (-1: none yet), and whether there are
 * others. A write that fails names its event only when it carries one event's changes.
 */
interface Writers {
  firstWriter: number;
  severalWriters: boolean;
}

interface PendingChange {
  eventIndex: number;
  change: Change;
}

export interface Entry extends Writers {
  table: string;
  key: Row;
  /** The row as the changes so far make it; null: there is none; undefined: not read yet. */
  row: Row | null | undefined;
  /** Whether the table holds the row (as of the last read or write). */
  stored: boolean;
  /** Changes waiting for the row to be read. */
  pending: PendingChange[];
  /** Columns changed since the last write (or the deletion, with row null); null: nothing to write. */
  dirty: string[] | null;
  /** Deleted and created again since the last write: delete before inserting, so unset columns take their defaults. */
  recreated: boolean;
}

const NUMERIC_OID = 1700;
const INT8_OID = 20;
const JSON_OIDS = new Set([114, 3802]);

/** The rows of a batch's derived tables that its handlers changed or read, by table and primary key. */
export class RowStore {
  private entries = new Map<string, Entry>();
  /** Shapes being read (one read per table however many ask), and those read (for changes applied at once). */
  private readonly shapes = new Map<string, Promise<TableShape>>();
  private readonly resolvedShapes = new Map<string, TableShape>();
  /** A handler issued raw SQL in this batch (`forget`): shapes are read in order from then on. */
  private sawRawStatement = false;
  /** Changes made since the store last handed over its work (`detach`). */
  private changes = 0;
  /** Table names already checked to be identifiers. */
  private readonly checkedTables = new Set<string>();

  constructor(
    private readonly client: PoolClient,
    private readonly schema: string,
  ) {}

  /** Something to write, or changes waiting for their rows. */
  get dirty(): boolean {
    return this.changes > 0;
  }

  forEvent(eventIndex: number, failed: (failure: StoreFailure) => void, ordered: <T>(step: () => Promise<T>) => Promise<T>): HandlerStore {
    return {
      get: <R extends Row>(table: string, key: Row) => {
        const entry = this.entry(table, key);
        if (entry.row !== undefined && entry.pending.length === 0) return Promise.resolve(entry.row ? ({ ...entry.row } as R) : undefined);
        return ordered(async () => {
          try {
            await this.read([entry]);
            this.applyPending(entry, await this.shape(table));
          } catch (error) {
            failed(error instanceof StoreFailed ? error.failure : { eventIndex, error });
            throw error instanceof StoreFailed ? error.failure.error : error;
          }
          return entry.row ? ({ ...entry.row } as R) : undefined;
        });
      },
      update: (table, key, change) => this.change(eventIndex, table, key, change as Change),
      set: (table, key, values) => this.change(eventIndex, table, key, () => values),
      delete: (table, key) => this.change(eventIndex, table, key, () => null),
    };
  }

  /**
   * Takes what is to be written. `keep`: the rows stay in memory for later changes (nothing but
   * the handlers' store changes the tables meanwhile); otherwise the store starts empty, as after
   * a raw statement that may change any row.
   */
  detach(keep: boolean): Entry[] {
    const work = [...this.entries.values()].filter((e) => e.dirty || e.pending.length > 0);
    this.changes = 0;
    if (!keep) this.forget();
    return work;
  }

  /** Drops the rows in memory (nothing to write): a raw statement may have changed them. */
  forget(): void {
    this.sawRawStatement = true;
    if (this.entries.size > 0) this.entries = new Map();
  }

  /**
   * Reads the rows that changes wait for, applies the changes in order, and writes every changed
   * row: per table one DELETE (rows deleted, or deleted and created again) and one upsert per set
   * of columns. Throws StoreFailed.
   */
  async write(work: readonly Entry[]): Promise<void> {
    const byTable = new Map<string, Entry[]>();
    for (const entry of work) {
      const entries = byTable.get(entry.table);
      if (entries) entries.push(entry);
      else byTable.set(entry.table, [entry]);
    }
    const statements: Array<{ writers: Writers; run: Promise<unknown> }> = [];
    // Every table's shape and rows asked for at once (pipelined), then the changes applied in order, then the writes.
    const tables = [...byTable];
    const shapes = await Promise.allSettled(
      tables.map(async ([table, entries]) => {
        const shape = await this.shape(table);
        await this.read(entries);
        return shape;
      }),
    );
    const failures: StoreFailure[] = [];
    shapes.forEach((shape, i) => {
      // No such table, a key that is not its primary key: every event that used it is wrong, the first one fails.
      if (shape.status === 'rejected') failures.push({ eventIndex: earliestWriter(tables[i]![1]), error: shape.reason });
    });
    if (failures.length === 0) {
      for (const [i, [, entries]] of tables.entries()) {
        const shape = (shapes[i] as PromiseFulfilledResult<TableShape>).value;
        for (const entry of entries) {
          try {
            this.applyPending(entry, shape);
          } catch (error) {
            failures.push(error instanceof StoreFailed ? error.failure : { eventIndex: undefined, error });
          }
        }
      }
    }
    if (failures.length > 0) throw new StoreFailed(failures.sort((a, b) => (a.eventIndex ?? Infinity) - (b.eventIndex ?? Infinity))[0]!);
    for (const [i, [, entries]] of tables.entries()) {
      const shape = (shapes[i] as PromiseFulfilledResult<TableShape>).value;
      for (const statement of this.writeStatements(shape, entries)) statements.push({ writers: statement.writers, run: this.client.query(statement.text, statement.values) });
    }
    const results = await Promise.allSettled(statements.map((s) => s.run));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      const { writers } = statements[failed]!;
      throw new StoreFailed({ eventIndex: writers.firstWriter >= 0 && !writers.severalWriters ? writers.firstWriter : undefined, error: (results[failed] as PromiseRejectedResult).reason });
    }
  }

  private entry(table: string, key: Row): Entry {
    if (!this.checkedTables.has(table)) {
      if (!isIdentifier(table)) throw new StoreError(`store: ${JSON.stringify(table)} is not a table name (lowercase letters, digits and _, as created in setup)`);
      this.checkedTables.add(table);
    }
    if (!key || typeof key !== 'object' || isEmpty(key)) throw new StoreError(`store: the key for ${table} must be an object of its primary key columns, e.g. { account }`);
    const id = `${table}\u0000${keyText(key)}`;
    let entry = this.entries.get(id);
    if (!entry) {
      // The table's shape is read now, while the handlers go on, so the flush does not wait a
      // round trip for it (a failure surfaces there). Not after a raw statement: it may be DDL
      // still queued behind a write, which the read would overtake.
      if (!this.sawRawStatement && !this.shapes.has(table)) this.shape(table).catch(() => undefined);
      entry = { table, key: { ...key }, row: undefined, stored: false, pending: [], dirty: null, recreated: false, firstWriter: -1, severalWriters: false };
      this.entries.set(id, entry);
    }
    return entry;
  }

  private change(eventIndex: number, table: string, key: Row, change: Change): void {
    if (typeof change !== 'function') throw new StoreError(`store.update(${table}, …): the change must be a function (row) => columns | null | undefined`);
    const entry = this.entry(table, key);
    addWriter(entry, eventIndex);
    this.changes += 1;
    if (entry.row === undefined || entry.pending.length > 0) {
      entry.pending.push({ eventIndex, change });
      return;
    }
    // In memory: applied now, so a change that throws fails its own event at once.
    applyChange(entry, change, this.knownShape(table));
  }

  private applyPending(entry: Entry, shape: TableShape): void {
    const pending = entry.pending.splice(0);
    for (const [i, { eventIndex, change }] of pending.entries()) {
      try {
        applyChange(entry, change, shape);
      } catch (error) {
        entry.pending.unshift(...pending.slice(i + 1));
        throw new StoreFailed({ eventIndex, error });
      }
    }
  }

  /** One query per table for all the rows not read yet. */
  private async read(entries: readonly Entry[]): Promise<void> {
    const unread = entries.filter((e) => e.row === undefined);
    if (unread.length === 0) return;
    const shape = await this.shape(unread[0]!.table);
    for (const entry of unread) checkKey(shape, entry.key);
    const target = qualified(this.schema, shape.table);
    const { rows } = await this.client.query<Row>({
      text: `SELECT t.* FROM ${target} AS t WHERE ${keyMatch(target, shape.key)}`,
      values: [jsonRows(unread.map((e) => jsonRow(e.key, shape.key, shape)))],
      types: HANDLER_TYPES,
    });
    const found = new Map(rows.map((row) => [keyText(pick(row, shape.key)), fromDatabase(shape, row)]));
    for (const entry of unread) {
      const row = found.get(keyText(pick(entry.key, shape.key)));
      entry.row = row ?? null;
      entry.stored = row !== undefined;
    }
  }

  /** The statements that write `entries`, each with the events whose changes it carries. */
  private writeStatements(shape: TableShape, entries: readonly Entry[]): Array<{ writers: Writers; text: string; values: unknown[] }> {
    const target = qualified(this.schema, shape.table);
    const deletes = { keys: [] as JsonRow[], firstWriter: -1, severalWriters: false };
    const upserts = new Map<string[], { columns: string[]; rows: JsonRow[]; firstWriter: number; severalWriters: boolean }>();
    for (const entry of entries) {
      if (!entry.dirty) continue;
      if ((entry.row === null || entry.recreated) && entry.stored) {
        deletes.keys.push(jsonRow(entry.key, shape.key, shape));
        addWriters(deletes, entry);
      }
      let inserted = false;
      if (entry.row !== null && entry.row !== undefined) {
        inserted = !entry.stored || entry.recreated;
        const columns = inserted ? columnList(shape, entry.row, null) : columnList(shape, null, entry.dirty);
        let group = upserts.get(columns);
        if (!group) {
          group = { columns, rows: [], firstWriter: -1, severalWriters: false };
          upserts.set(columns, group);
        }
        group.rows.push(jsonRow(entry.row, columns, shape));
        addWriters(group, entry);
        // Inserted with columns left to their defaults: read again when next used, so a change sees them.
        if (inserted && columns.length < shape.columns.size) entry.row = undefined;
      }
      entry.firstWriter = -1;
      entry.severalWriters = false;
      entry.stored = entry.row !== null;
      entry.dirty = null;
      entry.recreated = false;
    }
    const statements: Array<{ writers: Writers; text: string; values: unknown[] }> = [];
    if (deletes.keys.length > 0) {
      statements.push({ writers: deletes, text: `DELETE FROM ${target} AS t WHERE ${keyMatch(target, shape.key)}`, values: [jsonRows(deletes.keys)] });
    }
    for (const group of upserts.values()) {
      const quoted = group.columns.map(quoteIdent);
      const set = group.columns.filter((c) => !shape.key.includes(c)).map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`);
      statements.push({
        writers: group,
        text: `INSERT INTO ${target} (${quoted.join(', ')}) SELECT ${quoted.join(', ')} FROM json_populate_recordset(NULL::${target}, $1::json)
               ON CONFLICT (${shape.key.map(quoteIdent).join(', ')}) ${set.length > 0 ? `DO UPDATE SET ${set.join(', ')}` : 'DO NOTHING'}`,
        values: [jsonRows(group.rows)],
      });
    }
    return statements;
  }

  private knownShape(table: string): TableShape | undefined {
    return this.resolvedShapes.get(table);
  }

  /** The table's columns and primary key, read once per batch. */
  private shape(table: string): Promise<TableShape> {
    let shape = this.shapes.get(table);
    if (!shape) {
      shape = readShape(this.client, this.schema, table).then((s) => {
        this.resolvedShapes.set(table, s);
        return s;
      });
      this.shapes.set(table, shape);
    }
    return shape;
  }
}

/** How the store's failures travel: with the event they belong to, when known. */
export class StoreFailed extends Error {
  constructor(readonly failure: StoreFailure) {
    super(failure.error instanceof Error ? failure.error.message : String(failure.error));
  }
}

/** `t`'s rows whose primary key is among the keys in parameter $1 (a jsonb array of key objects). */
function keyMatch(target: string, key: readonly string[]): string {
  const columns = key.map(quoteIdent);
  return `(${columns.map((c) => `t.${c}`).join(', ')}) IN (SELECT ${columns.map((c) => `k.${c}`).join(', ')} FROM json_populate_recordset(NULL::${target}, $1::json) AS k)`;
}

function addWriter(writers: Writers, eventIndex: number): void {
  if (writers.firstWriter === -1) writers.firstWriter = eventIndex;
  else if (eventIndex !== writers.firstWriter) {
    writers.severalWriters = true;
    if (eventIndex < writers.firstWriter) writers.firstWriter = eventIndex;
  }
}

function addWriters(into: Writers, from: Writers): void {
  if (from.firstWriter === -1) return;
  addWriter(into, from.firstWriter);
  if (from.severalWriters) into.severalWriters = true;
}

function earliestWriter(entries: readonly Writers[]): number | undefined {
  let first = -1;
  for (const { firstWriter } of entries) if (firstWriter >= 0 && (first === -1 || firstWriter < first)) first = firstWriter;
  return first >= 0 ? first : undefined;
}

interface ColumnList {
  /** A stored row's changed columns (the key is added), or a new row's columns. */
  changed: boolean;
  /** The columns in the order a row listed them. */
  order: string[];
  /** Sorted: what the upsert writes. */
  sorted: string[];
}

/**
 * The columns an upsert writes, sorted, as one array per set (the upserts are grouped by it):
 * a new row's own columns, or a stored row's key and `changed` columns. Found by the columns in
 * the order the row lists them, which is the same for most rows of a table: no sort, no string.
 */
function columnList(shape: TableShape, row: Row | null, changed: string[] | null): string[] {
  const order = changed ?? Object.keys(row!);
  const known = shape.columnLists.find((l) => l.changed === (changed !== null) && sameColumns(l.order, order));
  if (known) return known.sorted;
  const sorted = [...new Set(changed ? [...shape.key, ...changed] : order)].sort();
  // Another order of the same columns shares its array (and so its upsert).
  const same = shape.columnLists.find((l) => sameColumns(l.sorted, sorted));
  shape.columnLists.push({ changed: changed !== null, order: [...order], sorted: same?.sorted ?? sorted });
  return same?.sorted ?? sorted;
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isEmpty(key: Row): boolean {
  for (const _ in key) return false;
  return true;
}

async function readShape(client: PoolClient, schema: string, table: string): Promise<TableShape> {
  // Named: planned once per connection (planning the catalog join is most of its cost).
  const { rows } = await client.query<{ name: string; type: number; typmod: number; key: boolean }>({
    name: 'indexer_store_table_shape',
    text: `SELECT a.attname AS name, a.atttypid::int AS type, a.atttypmod AS typmod, coalesce(a.attnum = ANY(i.indkey), false) AS key
             FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
            WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum`,
    values: [qualified(schema, table)],
  });
  if (rows.length === 0) throw new StoreError(`store: there is no table ${table} in schema ${schema}; create it in setup`);
  const key = rows.filter((r) => r.key).map((r) => r.name);
  if (key.length === 0) throw new StoreError(`store: table ${table} has no primary key; the store finds rows by primary key, so give it one in setup`);
  for (const name of rows.map((r) => r.name)) {
    if (!isIdentifier(name)) throw new StoreError(`store: column ${JSON.stringify(name)} of ${table} is not a lowercase SQL identifier; use db.query for this table`);
  }
  const columns = new Map<string, ColumnShape>(
    rows.map((r) => [
      r.name,
      {
        integer: r.type === INT8_OID || (r.type === NUMERIC_OID && r.typmod >= 4 && ((r.typmod - 4) & 0xffff) === 0) ? 'always' : r.type === NUMERIC_OID && r.typmod < 0 ? 'when-integral' : 'no',
        json: JSON_OIDS.has(r.type),
      },
    ]),
  );
  return { table, columns, key, columnLists: [] };
}

function checkKey(shape: TableShape, key: Row): void {
  const given = Object.keys(key).sort();
  const wanted = [...shape.key].sort();
  if (given.join(',') !== wanted.join(',')) throw new StoreError(`store: the key for ${shape.table} must name its primary key columns (${wanted.join(', ')}), got (${given.join(', ')})`);
}

function applyChange(entry: Entry, change: Change, shape: TableShape | undefined): void {
  const next = change(entry.row ? { ...entry.row } : undefined);
  if (next === undefined) return;
  if (next === null) {
    if (entry.row !== null) {
      entry.row = null;
      entry.dirty = [];
      entry.recreated = false;
    }
    return;
  }
  if (typeof next !== 'object' || Array.isArray(next)) throw new StoreError(`store: a change to ${entry.table} must return an object of columns, null (delete) or undefined (no change)`);
  const columns = Object.keys(next);
  for (const column of columns) {
    if (shape && !shape.columns.has(column)) throw new StoreError(`store: table ${entry.table} has no column ${JSON.stringify(column)}`);
    if (column in entry.key && keyText({ [column]: next[column] }) !== keyText({ [column]: entry.key[column] })) throw new StoreError(`store: a change to ${entry.table} may not change its key column ${column}`);
  }
  if (!entry.row) {
    if (entry.stored) entry.recreated = true;
    entry.row = { ...entry.key };
    entry.dirty = Object.keys(entry.key);
  }
  entry.dirty ??= [];
  for (const column of columns) {
    if (column in entry.key) continue;
    entry.row[column] = next[column];
    if (!entry.dirty.includes(column)) entry.dirty.push(column);
  }
}

/** pg's text for int8 and numeric, as bigint where the column holds integers. */
function fromDatabase(shape: TableShape, row: Row): Row {
  const out: Row = {};
  for (const column in row) {
    const value = row[column];
    const integer = shape.columns.get(column)?.integer;
    out[column] = typeof value === 'string' && (integer === 'always' || (integer === 'when-integral' && /^-?\d+$/.test(value))) ? BigInt(value) : value;
  }
  return out;
}

function pick(row: Row, columns: readonly string[]): Row {
  const out: Row = {};
  for (const c of columns) out[c] = row[c];
  return out;
}

/** A key as text: columns in name order, integers however given (5, 5n and "5" are one key). */
function keyText(key: Row): string {
  let text = '';
  let count = 0;
  for (const c in key) {
    text += keyPart(c, key[c]);
    count += 1;
  }
  if (count < 2) return text; // the common key of one column, without an array to sort
  text = '';
  for (const c of Object.keys(key).sort()) text += keyPart(c, key[c]);
  return text;
}

function keyPart(column: string, v: unknown): string {
  return `${column}\u0001${typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? String(v) : JSON.stringify(jsonValue(v), bigintAsText)}\u0002`;
}

/**
 * A row's columns as json_populate_recordset takes them: PostgreSQL reads each field as its
 * column's type from the field's own JSON text (json, not jsonb, which would turn numbers into
 * numeric first: a json column's text and a float's -0 stay as given).
 */
type JsonRow = Record<string, unknown>;

function jsonRow(row: Row, columns: readonly string[], shape: TableShape): JsonRow {
  const out: JsonRow = {};
  for (const c of columns) out[c] = shape.columns.get(c)?.json ? row[c] : jsonValue(row[c]);
  return out;
}

/**
 * Rows as one json parameter. Their own bigints are text already; a json column's value is JSON
 * itself, whose bigints (rare) make the writer take its exact, slower path.
 */
function jsonRows(rows: readonly JsonRow[]): string {
  return toDatabaseJson(rows);
}

function jsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  // JSON has no NaN, Infinity or -0 (JSON.stringify writes null, null and 0): float8 reads their text.
  if (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))) return Object.is(value, -0) ? '-0' : String(value);
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  return value;
}

function bigintAsText(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
