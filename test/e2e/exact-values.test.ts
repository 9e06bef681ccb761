import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { createPool, type Pool, type PoolClient } from '../../src/db/pool';
import { ensureSchema } from '../../src/db/schema';
import { installUndoTriggers, setHandledBlock, undoAbove, undoLogDdl } from '../../src/stages/handlers/undo-log';
import { BatchDb } from '../../src/stages/handlers/batch-db';
import { startPostgres } from '../helpers/stack';

/**
 * Exact values through what handlers touch (DESIGN.md v3, "Exact values everywhere"), on real
 * PostgreSQL (no Temporal), as property tests with values at their extremes:
 * - the undo log against a model: seeded random sequences of inserts, updates, upserts and
 *   deletes, through the handlers' `store` and their `db.query` (in the same batches, as handlers
 *   issue them), on derived tables of every type a handler keeps, across many blocks; then
 *   rollbacks to random ancestors. After each rollback every table must equal, row for row as
 *   `row::text`, the snapshot taken when the chain stood at that ancestor;
 * - values read by a handler (store and db.query) and written back (store and db.query) are the
 *   values they were, row::text for row::text.
 * `EXACT_VALUES_SEED=<n>` replays a failing run (fast-check prints the seed and the path).
 */

const CHAIN = 31337;
const seed = process.env.EXACT_VALUES_SEED ? Number(process.env.EXACT_VALUES_SEED) : undefined;
const MAX = 2n ** 256n - 1n;
const schema = `undo_property_${process.pid}`;
let pool: Pool;
let stop: () => Promise<void>;

const TABLES = {
  // A primary key of one column: every type handlers keep.
  accounts: `CREATE TABLE accounts (
    account text PRIMARY KEY, balance numeric(78,0) NOT NULL DEFAULT 0, price numeric(40,18), ratio numeric, nonce bigint, label text,
    code bytea, meta jsonb, tags text[], amounts numeric[], seen_at timestamptz, active boolean)`,
  // A composite key, a json column (its own text: spacing, duplicate keys) and a generated one.
  positions: `CREATE TABLE positions (
    owner text, pool integer, liquidity numeric(78,0), tick bigint, raw json, opened_at timestamptz, closed boolean,
    doubled numeric GENERATED ALWAYS AS (liquidity * 2) STORED, PRIMARY KEY (owner, pool))`,
  // No key at all: identical rows are normal.
  ledger: `CREATE TABLE ledger (block bigint, amount numeric(78,0), note text, payload jsonb, flag boolean)`,
} as const;
/** The round trip's tables: written, read into JavaScript, written again into the other. */
const ROUND_TRIP = `CREATE TABLE round_trip (
  id text PRIMARY KEY, big numeric(78,0), scaled numeric(40,18), ratio numeric, i8 bigint, label text, code bytea, meta jsonb,
  tags text[], amounts numeric[], seen_at timestamptz, day date, active boolean, f float8);
  CREATE TABLE round_trip_again (LIKE round_trip INCLUDING ALL)`;
type Table = keyof typeof TABLES;
const tableNames = Object.keys(TABLES) as Table[];

before(async () => {
  const postgres = await startPostgres();
  stop = postgres.stop;
  pool = createPool(postgres.databaseUrl, 2, { pipeline: true });
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await ensureSchema(pool, schema, [], { stageDdl: undoLogDdl(schema) });
  for (const ddl of [...Object.values(TABLES), ROUND_TRIP]) await pool.query(`SET search_path TO ${schema}; ${ddl}`);
  const client = await pool.connect();
  try {
    await installUndoTriggers(client, schema, []);
  } finally {
    client.release();
  }
});

after(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await pool.end();
  await stop();
});

// ---- values at their extremes ----

const uint256 = fc.oneof(
  fc.constantFrom(MAX, -MAX, MAX - 1n, -(MAX - 1n), 2n ** 255n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 0n, 1n, -1n),
  // 18-decimal token amounts with odd low digits.
  fc.bigInt({ min: 0n, max: 10n ** 12n }).chain((whole) => fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }).map((fraction) => whole * 10n ** 18n + fraction)),
  fc.bigInt({ min: -MAX, max: MAX }),
);
const int64 = fc.oneof(fc.constantFrom(2n ** 63n - 1n, -(2n ** 63n), 0n, 2n ** 53n + 1n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
/** numeric(40,18): 22 integer digits, 18 decimals. */
const scaled = fc.bigInt({ min: -(10n ** 40n - 1n), max: 10n ** 40n - 1n }).map((n) => decimal(n, 18));
/** numeric without a scale: the scale written is kept (1.500 stays 1.500). */
const anyDecimal = fc.tuple(fc.bigInt({ min: -(10n ** 50n), max: 10n ** 50n }), fc.nat(30)).map(([n, scale]) => decimal(n, scale));
const unicode = fc.oneof(
  fc.constantFrom('héllo wörld', '😀 "quoted" \\ back, (parens) {braces}', 'ＲＴＬ עברית العربية', ''),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replace(/\u0000/g, '')),
);
const bytes = fc.uint8Array({ maxLength: 24 });
/** jsonb holding integers far beyond 2^53, as handlers write them (bigints in an object). */
const bigJson = fc.record({ amount: uint256, list: fc.array(int64, { maxLength: 3 }), note: unicode, nested: fc.record({ v: uint256 }) });
/** A json column's own text: odd spacing, a duplicate key, a big integer literal. */
const rawJson = fc.tuple(uint256, fc.integer()).map(([big, small]) => `{ "a" :  ${big} , "a": ${small}, "b": [ ${small} ,1.50 ] }`);
/** timestamptz with microseconds, from 1970 to 2100. */
const timestamp = fc.bigInt({ min: 0n, max: 4_102_444_800_000_000n }).map((micros) => {
  const date = new Date(Number(micros / 1000n));
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}.${String(micros % 1_000_000n).padStart(6, '0')}+00`;
});
const nullable = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null, freq: 5 });

function decimal(n: bigint, scale: number): string {
  const digits = (n < 0n ? -n : n).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return n < 0n ? `-${text}` : text;
}

// ---- operations, as a handler issues them ----

const account = fc.constantFrom('0x0000000000000000000000000000000000000001', '0xdead', 'ünïcode', 'a', 'b');
const owner = fc.constantFrom('alice', 'bob', 'çarol');
const poolId = fc.constantFrom(1, 2, 2_147_483_647);
const note = fc.constantFrom('mint', 'burn', 'swap ↔', '');

/** Columns both the undo property's accounts table and the round-trip table have: text, bytes, json, arrays, timestamps. */
const sharedValues = {
  label: nullable(unicode),
  code: nullable(bytes),
  meta: nullable(bigJson),
  tags: nullable(fc.array(nullable(unicode), { maxLength: 3 })),
  amounts: nullable(fc.array(uint256.map(String), { maxLength: 3 })),
  seen_at: nullable(timestamp),
};

const accountValues = fc.record({
  balance: uint256,
  price: nullable(scaled),
  ratio: nullable(anyDecimal),
  nonce: nullable(int64),
  ...sharedValues,
  active: nullable(fc.boolean()),
});
/** Some of the columns: an update or an upsert that sets only these. */
const someAccountValues = accountValues.chain((values) => fc.subarray(Object.keys(values), { minLength: 1 }).map((keys) => Object.fromEntries(keys.map((k) => [k, values[k as keyof typeof values]]))));
const positionValues = fc.record({ liquidity: nullable(uint256), tick: nullable(int64), raw: nullable(rawJson), opened_at: nullable(timestamp), closed: nullable(fc.boolean()) });
const ledgerValues = fc.record({ block: fc.constantFrom(1n, 2n, 2n ** 62n), amount: nullable(uint256), note: nullable(note), payload: nullable(bigJson), flag: nullable(fc.boolean()) });

type Op =
  | { via: 'sql'; kind: 'insert' | 'upsert'; table: 'accounts'; key: string; values: Record<string, unknown> }
  | { via: 'sql'; kind: 'update'; table: 'accounts'; key: string; values: Record<string, unknown> }
  | { via: 'sql' | 'store'; kind: 'delete'; table: 'accounts'; key: string }
  | { via: 'store'; kind: 'set'; table: 'accounts'; key: string; values: Record<string, unknown> }
  | { via: 'store'; kind: 'add'; table: 'accounts'; key: string; amount: bigint }
  | { via: 'sql' | 'store'; kind: 'upsert'; table: 'positions'; key: [string, number]; values: Record<string, unknown> }
  | { via: 'sql' | 'store'; kind: 'delete'; table: 'positions'; key: [string, number] }
  | { via: 'sql'; kind: 'update'; table: 'positions'; key: [string, number]; liquidity: bigint }
  | { via: 'sql'; kind: 'insert'; table: 'ledger'; values: Record<string, unknown> }
  | { via: 'sql'; kind: 'update'; table: 'ledger'; block: bigint; note: string | null }
  | { via: 'sql'; kind: 'delete'; table: 'ledger'; note: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ via: fc.constant('sql' as const), kind: fc.constantFrom('insert' as const, 'upsert' as const), table: fc.constant('accounts' as const), key: account, values: someAccountValues }),
  fc.record({ via: fc.constant('sql' as const), kind: fc.constant('update' as const), table: fc.constant('accounts' as const), key: account, values: someAccountValues }),
  fc.record({ via: fc.constantFrom('sql' as const, 'store' as const), kind: fc.constant('delete' as const), table: fc.constant('accounts' as const), key: account }),
  fc.record({ via: fc.constant('store' as const), kind: fc.constant('set' as const), table: fc.constant('accounts' as const), key: account, values: someAccountValues }),
  fc.record({ via: fc.constant('store' as const), kind: fc.constant('add' as const), table: fc.constant('accounts' as const), key: account, amount: uint256 }),
  fc.record({ via: fc.constantFrom('sql' as const, 'store' as const), kind: fc.constant('upsert' as const), table: fc.constant('positions' as const), key: fc.tuple(owner, poolId), values: positionValues }),
  fc.record({ via: fc.constantFrom('sql' as const, 'store' as const), kind: fc.constant('delete' as const), table: fc.constant('positions' as const), key: fc.tuple(owner, poolId) }),
  fc.record({ via: fc.constant('sql' as const), kind: fc.constant('update' as const), table: fc.constant('positions' as const), key: fc.tuple(owner, poolId), liquidity: uint256 }),
  fc.record({ via: fc.constant('sql' as const), kind: fc.constant('insert' as const), table: fc.constant('ledger' as const), values: ledgerValues }),
  fc.record({ via: fc.constant('sql' as const), kind: fc.constant('update' as const), table: fc.constant('ledger' as const), block: fc.constantFrom(1n, 2n, 2n ** 62n), note: nullable(note) }),
  fc.record({ via: fc.constant('sql' as const), kind: fc.constant('delete' as const), table: fc.constant('ledger' as const), note }),
);

type Step = { kind: 'block'; ops: Op[]; commit: boolean } | { kind: 'rollback'; depth: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('block' as const), ops: fc.array(op, { maxLength: 12 }), commit: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rollback' as const), depth: fc.nat(40) }) },
);

/** The columns of `values` for a statement whose parameters for them start at $first. */
function columnsOf(values: Record<string, unknown>, first = 2): { names: string; params: string; excluded: string; values: unknown[] } {
  const names = Object.keys(values);
  return { names: names.join(', '), params: names.map((_, i) => `$${i + first}`).join(', '), excluded: names.map((n) => `excluded.${n}`).join(', '), values: names.map((n) => values[n]) };
}

/** Issues one operation through the batch's `db` (not awaited, as handlers leave statements) or `store`. */
function issue(batch: BatchDb, index: number, o: Op): void {
  const { db, store } = batch.forEvent(index);
  switch (o.table) {
    case 'accounts': {
      if (o.via === 'store') {
        if (o.kind === 'delete') store.delete('accounts', { account: o.key });
        else if (o.kind === 'set') store.set('accounts', { account: o.key }, o.values);
        else if (o.kind === 'add') {
          // Read-modify-write of a numeric(78,0) and a jsonb holding big integers, kept in range.
          const amount = o.amount;
          store.update('accounts', { account: o.key }, (row) => {
            const balance = (row?.balance as bigint | undefined) ?? 0n;
            const next = balance + amount > MAX || balance + amount < -MAX ? amount : balance + amount;
            const meta = (row?.meta as { amount?: bigint } | null | undefined) ?? {};
            return { balance: next, meta: { ...meta, amount: typeof meta.amount === 'bigint' ? meta.amount + 1n : amount } };
          });
        }
        return;
      }
      if (o.kind === 'delete') {
        void db.query('DELETE FROM accounts WHERE account = $1', [o.key]);
        return;
      }
      const c = columnsOf(o.values);
      if (o.kind === 'update') void db.query(`UPDATE accounts SET (${c.names}, account) = (${c.params}, account) WHERE account = $1`, [o.key, ...c.values]);
      else {
        const onConflict = o.kind === 'insert' ? 'DO NOTHING' : `DO UPDATE SET (${c.names}, account) = (${c.excluded}, excluded.account)`;
        void db.query(`INSERT INTO accounts (account, ${c.names}) VALUES ($1, ${c.params}) ON CONFLICT (account) ${onConflict}`, [o.key, ...c.values]);
      }
      return;
    }
    case 'positions': {
      const [who, id] = o.key;
      if (o.kind === 'delete') {
        if (o.via === 'store') store.delete('positions', { owner: who, pool: id });
        else void db.query('DELETE FROM positions WHERE owner = $1 AND pool = $2', [who, id]);
      } else if (o.kind === 'update') {
        void db.query('UPDATE positions SET liquidity = $3 WHERE owner = $1 AND pool = $2', [who, id, o.liquidity]);
      } else if (o.via === 'store') {
        // The store writes a json column's value as JSON: the text's object, not the text.
        const { raw, ...rest } = o.values;
        store.set('positions', { owner: who, pool: id }, { ...rest, raw: raw === null ? null : { text: raw } });
      } else {
        const c = columnsOf(o.values);
        void db.query(
          `INSERT INTO positions (owner, pool, ${c.names}) VALUES ($1, $${c.values.length + 2}, ${c.params}) ON CONFLICT (owner, pool) DO UPDATE SET (${c.names}) = (${c.excluded})`,
          [who, ...c.values, id],
        );
      }
      return;
    }
    case 'ledger': {
      if (o.kind === 'insert') {
        const c = columnsOf(o.values, 1);
        void db.query(`INSERT INTO ledger (${c.names}) VALUES (${c.params})`, c.values);
      } else if (o.kind === 'update') void db.query('UPDATE ledger SET note = $2, flag = NOT coalesce(flag, false) WHERE block = $1', [o.block, o.note]);
      else void db.query('DELETE FROM ledger WHERE note = $1', [o.note]);
    }
  }
}

/** Every table's rows as text, sorted: what a snapshot and a check compare. */
async function tablesAsText(client: PoolClient): Promise<Record<Table, string[]>> {
  const out = {} as Record<Table, string[]>;
  for (const table of tableNames) {
    const { rows } = await client.query<{ row: string }>(`SELECT ROW(t.*)::text AS row FROM ${schema}.${table} AS t ORDER BY 1`);
    out[table] = rows.map((r) => r.row);
  }
  return out;
}

/** One run: the steps on empty tables, checked after every rollback; returns what it did. */
async function run(steps: Step[]): Promise<{ changes: number; rollbacks: number; blocks: number }> {
  const client = await pool.connect();
  const counts = { changes: 0, rollbacks: 0, blocks: 0 };
  try {
    await client.query(`TRUNCATE ${tableNames.map((t) => `${schema}.${t}`).join(', ')}, ${schema}._undo_log`);
    const base = 100;
    let block = base;
    const snapshots = new Map<number, Record<Table, string[]>>([[base, await tablesAsText(client)]]);
    let open: BatchDb | undefined;
    const commit = async () => {
      if (!open) return;
      await open.flushStore();
      const failure = await open.settle();
      if (failure) throw failure.error;
      await setHandledBlock(client, CHAIN, null);
      await client.query('COMMIT');
      open = undefined;
    };
    for (const s of steps) {
      if (s.kind === 'block') {
        if (!open) {
          await client.query('BEGIN');
          await client.query(`SET LOCAL search_path TO ${schema}`);
          open = new BatchDb(client, schema);
        }
        block += 1;
        counts.blocks += 1;
        // As a handlers batch does: the store's changes so far go under the old block's mark.
        await open.flushStore();
        open.bookkeeping(0, () => setHandledBlock(client, CHAIN, block));
        s.ops.forEach((o, i) => issue(open!, i, o));
        await open.flushStore();
        const failure = await open.settle();
        if (failure) throw failure.error;
        snapshots.set(block, await tablesAsText(client));
        if (s.commit) await commit();
      } else {
        await commit();
        const ancestor = block - (s.depth % (block - base + 1));
        await client.query('BEGIN');
        counts.changes += await undoAbove(client, schema, CHAIN, ancestor);
        await client.query('COMMIT');
        counts.rollbacks += 1;
        assert.deepStrictEqual(await tablesAsText(client), snapshots.get(ancestor), `after a rollback from block ${block} to ${ancestor}, the tables equal their snapshot at ${ancestor}`);
        for (const b of [...snapshots.keys()]) if (b > ancestor) snapshots.delete(b);
        block = ancestor;
      }
    }
    await commit();
    // And finally all the way back: every table as it was before the first block.
    await client.query('BEGIN');
    counts.changes += await undoAbove(client, schema, CHAIN, base);
    await client.query('COMMIT');
    counts.rollbacks += 1;
    assert.deepStrictEqual(await tablesAsText(client), snapshots.get(base), 'after a rollback to before the first block, every table is empty again');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  return counts;
}

test('rollbacks to random ancestors restore every derived table exactly, row::text for row::text, whatever the types and the path the changes took', async () => {
  const totals = { runs: 0, changes: 0, rollbacks: 0, blocks: 0 };
  
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 20, maxLength: 60 }), async (steps) => {
      const counts = await run(steps);
      totals.runs += 1;
      totals.changes += counts.changes;
      totals.rollbacks += counts.rollbacks;
      totals.blocks += counts.blocks;
    }),
    { numRuns: 40, includeErrorInReport: true, ...(seed === undefined ? {} : { seed }) },
  );
  console.log(`undo property: ${totals.runs} runs, ${tableNames.length} tables, ${totals.blocks} blocks, ${totals.changes} changes undone over ${totals.rollbacks} rollbacks`);
  assert.ok(totals.changes > 1_000, `the runs undid real work (${totals.changes} changes)`);
});

const roundTripValues = fc.record({
  big: nullable(uint256),
  scaled: nullable(scaled),
  ratio: nullable(anyDecimal),
  i8: nullable(int64),
  ...sharedValues,
  day: nullable(timestamp.map((t) => t.slice(0, 10))),
  active: nullable(fc.boolean()),
  f: nullable(fc.oneof(fc.double(), fc.constantFrom(-0, Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, -Infinity, 0.1))),
});

/** One batch on its own transaction, its statements' failures thrown. */
async function inBatch<T>(work: (batch: BatchDb) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL search_path TO ${schema}`);
    const batch = new BatchDb(client, schema);
    const result = await work(batch);
    await batch.flushStore();
    const failure = await batch.settle();
    if (failure) throw failure.error;
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function insertRow(table: string, row: Record<string, unknown>): [string, unknown[]] {
  const c = columnsOf(row, 1);
  return [`INSERT INTO ${table} (${c.names}) VALUES (${c.params})`, c.values];
}

test('values a handler reads (store and db.query) and writes back (store and db.query) are the values they were, row::text for row::text', async () => {
  let rows = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(roundTripValues, { minLength: 1, maxLength: 8 }), async (generated) => {
      const written = generated.map((values, i) => ({ id: `row ${i}`, ...values }));
      await pool.query(`TRUNCATE ${schema}.round_trip, ${schema}.round_trip_again`);
      // Written half through the store, half through db.query.
      await inBatch(async (batch) => {
        written.forEach((row, i) => {
          const { db, store } = batch.forEvent(i);
          if (i % 2 === 0) store.set('round_trip', { id: row.id }, row);
          else void db.query(...insertRow('round_trip', row));
        });
      });
      // Read back the other way round, checked where JavaScript has the exact value, and written again.
      await inBatch(async (batch) => {
        for (const [i, row] of written.entries()) {
          const { db, store } = batch.forEvent(i);
          const read =
            i % 2 === 0
              ? (await db.query('SELECT * FROM round_trip WHERE id = $1', [row.id])).rows[0]!
              : ((await store.get('round_trip', { id: row.id })) as Record<string, unknown>);
          const big = i % 2 === 0 ? read.big : (read.big as bigint | null)?.toString() ?? null;
          assert.equal(big, row.big === null ? null : row.big.toString(), `${row.id}: numeric(78,0) read exactly`);
          // Integers a double holds come back as numbers, the others as bigints: both exact.
          if (row.meta) assert.equal(String((read.meta as { amount: unknown }).amount), row.meta.amount.toString(), `${row.id}: an integer in jsonb read exactly`);
          if (row.seen_at) assert.equal(typeof read.seen_at, 'string', 'timestamptz as PostgreSQL writes it, to the microsecond');
          if (i % 2 === 0) store.set('round_trip_again', { id: row.id }, read);
          else void db.query(...insertRow('round_trip_again', read));
        }
      });
      const { rows: differing } = await pool.query(
        `SELECT ROW(a.*)::text AS before, ROW(b.*)::text AS after FROM ${schema}.round_trip a FULL JOIN ${schema}.round_trip_again b USING (id) WHERE ROW(a.*)::text IS DISTINCT FROM ROW(b.*)::text`,
      );
      assert.deepStrictEqual(differing, [], 'every row read and written again is the row it was');
      rows += written.length;
    }),
    { numRuns: 60, includeErrorInReport: true, ...(seed === undefined ? {} : { seed }) },
  );
  console.log(`round trip: ${rows} rows of 13 types read and written back`);
});

test('an undo log written by an earlier version (jsonb images) is moved to json images when the indexer prepares its schema', async () => {
  const older = `${schema}_older`;
  await pool.query(`DROP SCHEMA IF EXISTS ${older} CASCADE`);
  await ensureSchema(pool, older, [], { stageDdl: undoLogDdl(older) });
  await pool.query(`ALTER TABLE ${older}._undo_log ALTER COLUMN old_row TYPE jsonb, ALTER COLUMN new_row TYPE jsonb`);
  await pool.query(`INSERT INTO ${older}._undo_log (chain_id, block_number, table_name, op, new_row) VALUES (1, 5, 't', 'I', '{"a": 1}')`);
  await ensureSchema(pool, older, [], { stageDdl: undoLogDdl(older) });
  const { rows } = await pool.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = '${older}._undo_log'::regclass AND attname IN ('old_row', 'new_row') ORDER BY attname`,
  );
  assert.deepStrictEqual(rows, [
    { name: 'new_row', type: 'json' },
    { name: 'old_row', type: 'json' },
  ]);
  assert.equal((await pool.query(`SELECT new_row::text AS r FROM ${older}._undo_log`)).rows[0].r, '{"a": 1}', 'the records kept');
  await pool.query(`DROP SCHEMA ${older} CASCADE`);
});
