import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool, inTransaction, type Pool } from '../../src/db/pool';
import { BatchDb } from '../../src/stages/handlers/batch-db';
import { startPostgres } from '../helpers/stack';

/**
 * The handlers' `store` on a real PostgreSQL connection in pipeline mode: changes to a row are
 * applied in order with everything else the handlers issue, coalesced into one write per row, and
 * a failure names the event it belongs to where one event can be named.
 */

let pool: Pool;
let stop: () => Promise<void>;
const schema = `store_${process.pid}`;

before(async () => {
  const postgres = await startPostgres();
  stop = postgres.stop;
  pool = createPool(postgres.databaseUrl, 2, { pipeline: true });
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query(`CREATE TABLE ${schema}.balances (account text primary key, balance numeric(78,0) not null, extra integer not null default 7)`);
  await pool.query(`CREATE TABLE ${schema}.writes (account text primary key, n integer not null)`);
  // Counts the row writes the store makes, to see that they are coalesced.
  await pool.query(`CREATE FUNCTION ${schema}.count_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO ${schema}.writes VALUES (NEW.account, 1) ON CONFLICT (account) DO UPDATE SET n = writes.n + 1; RETURN NULL; END $$`);
  await pool.query(`CREATE TRIGGER count_write AFTER INSERT OR UPDATE ON ${schema}.balances FOR EACH ROW EXECUTE FUNCTION ${schema}.count_write()`);
});

after(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await pool.end();
  await stop();
});

async function reset(): Promise<void> {
  await pool.query(`TRUNCATE ${schema}.balances, ${schema}.writes`);
}

async function inBatch<T>(work: (db: BatchDb) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    await client.query(`SET LOCAL search_path TO ${schema}`);
    return work(new BatchDb(client, schema));
  });
}

async function balances(): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ account: string; balance: string }>(`SELECT account, balance::text AS balance FROM ${schema}.balances ORDER BY account`);
  return Object.fromEntries(rows.map((r) => [r.account, r.balance]));
}

const add = (amount: bigint) => (row: Record<string, unknown> | undefined) => ({ balance: ((row?.balance as bigint | undefined) ?? 0n) + amount });

test('2,000 transfers from one account: balances equal a sum computed apart, and each row is written once', async () => {
  await reset();
  await pool.query(`INSERT INTO ${schema}.balances (account, balance) VALUES ('hot', 1000000)`);
  await pool.query(`TRUNCATE ${schema}.writes`);
  const expected = new Map<string, bigint>([['hot', 1_000_000n]]);
  await inBatch(async (db) => {
    for (let event = 0; event < 2_000; event++) {
      const { store } = db.forEvent(event);
      const to = `to${event % 700}`;
      const value = BigInt(event + 1);
      store.update('balances', { account: 'hot' }, add(-value));
      store.update('balances', { account: to }, add(value));
      expected.set('hot', expected.get('hot')! - value);
      expected.set(to, (expected.get(to) ?? 0n) + value);
    }
    await db.flushStore();
    assert.equal(await db.settle(), undefined);
  });
  assert.deepEqual(await balances(), Object.fromEntries([...expected].map(([k, v]) => [k, v.toString()]).sort(([a], [b]) => a!.localeCompare(b!))));
  const { rows } = await pool.query<{ n: number }>(`SELECT max(n) AS n FROM ${schema}.writes`);
  assert.equal(rows[0]!.n, 1, 'every row, the hot one included, is written once per flush');
});

test('store changes and raw statements keep the order they were issued in; get sees changes not yet written', async () => {
  await reset();
  const seen = await inBatch(async (db) => {
    const first = db.forEvent(0);
    first.store.update('balances', { account: 'a' }, add(1n));
    // Raw SQL after a store change sees it (the change is written first) …
    void first.db.query(`UPDATE balances SET balance = balance * 10 WHERE account = $1`, ['a']);
    // … and a store change after raw SQL starts from what the SQL left.
    const second = db.forEvent(1);
    second.store.update('balances', { account: 'a' }, add(1n));
    const got = await second.store.get('balances', { account: 'a' });
    const missing = await second.store.get('balances', { account: 'nobody' });
    await db.flushStore();
    assert.equal(await db.settle(), undefined);
    return { got, missing };
  });
  assert.deepEqual(seen, { got: { account: 'a', balance: 11n, extra: 7 }, missing: undefined });
  assert.deepEqual(await balances(), { a: '11' });
});

test('delete, and a row deleted then created again: columns not set take their defaults again', async () => {
  await reset();
  await pool.query(`INSERT INTO ${schema}.balances VALUES ('gone', 5, 9), ('again', 5, 9), ('kept', 5, 9)`);
  await inBatch(async (db) => {
    const { store } = db.forEvent(0);
    store.delete('balances', { account: 'gone' });
    store.delete('balances', { account: 'again' });
    store.set('balances', { account: 'again' }, { balance: 6n });
    store.update('balances', { account: 'kept' }, (row) => ({ balance: (row!.balance as bigint) + 1n }));
    store.update('balances', { account: 'kept' }, () => undefined);
    await db.flushStore();
    assert.equal(await db.settle(), undefined);
  });
  const { rows } = await pool.query(`SELECT account, balance::text AS balance, extra FROM ${schema}.balances ORDER BY account`);
  assert.deepEqual(rows, [
    { account: 'again', balance: '6', extra: 7 },
    { account: 'kept', balance: '6', extra: 9 },
  ]);
});

test('values as PostgreSQL gets them: bigints (as JSON numbers, digit for digit) and bytes in a jsonb column, new rows listing their columns in any order, a failing write of one event naming it', async () => {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${schema}.positions (owner text, pool bytea, amount numeric(78,0), meta jsonb, primary key (owner, pool))`);
  await pool.query(`TRUNCATE ${schema}.positions`);
  const pool1 = new Uint8Array([0xab, 0xcd]);
  const failure = await inBatch(async (db) => {
    const { store } = db.forEvent(0);
    store.set('positions', { owner: 'a', pool: pool1 }, { amount: 10n ** 30n, meta: { ticks: [1n, -2n, 2n ** 256n - 1n], note: 'x' } });
    // The same columns named in another order: still one upsert, the same values.
    store.set('positions', { pool: pool1, owner: 'b' }, { meta: null, amount: 2n });
    store.update('positions', { owner: 'a', pool: pool1 }, (row) => ({ amount: (row!.amount as bigint) + 1n }));
    await db.flushStore();
    assert.equal(await db.settle(), undefined);
    // One event's change alone in a write the database refuses: that event is named.
    db.forEvent(7).store.set('positions', { owner: 'c', pool: pool1 }, { amount: -1n, meta: 'not json' });
    await db.flushStore();
    return db.settle();
  });
  assert.equal(failure, undefined, 'a jsonb string is valid json');
  const { rows } = await pool.query(`SELECT owner, encode(pool, 'hex') AS pool, amount::text AS amount, meta::text AS meta FROM ${schema}.positions ORDER BY owner`);
  assert.deepEqual(rows, [
    { owner: 'a', pool: 'abcd', amount: (10n ** 30n + 1n).toString(), meta: `{"note": "x", "ticks": [1, -2, ${2n ** 256n - 1n}]}` },
    { owner: 'b', pool: 'abcd', amount: '2', meta: null },
    { owner: 'c', pool: 'abcd', amount: '-1', meta: '"not json"' },
  ]);
  const refused = await inBatch(async (db) => {
    db.forEvent(3).store.set('positions', { owner: 'd', pool: pool1 }, { amount: 'many' });
    db.forEvent(3).store.set('positions', { owner: 'e', pool: pool1 }, { amount: 1n });
    await db.flushStore();
    return db.settle();
  });
  assert.equal(refused?.eventIndex, 3, 'the only event whose changes the refused write carries');
  assert.match(String((refused?.error as Error).message), /invalid input syntax for type numeric/);
});

test('a change that throws once its row is read names its own event', async () => {
  await reset();
  const failure = await inBatch(async (db) => {
    for (let event = 0; event < 20; event++) {
      db.forEvent(event).store.update('balances', { account: `r${event}` }, (row) => {
        if (event === 13) throw new Error(`no balance for event ${event}`);
        return add(1n)(row);
      });
    }
    await db.flushStore();
    return db.settle();
  });
  assert.equal(failure?.eventIndex, 13);
  assert.match(String(failure?.error), /no balance for event 13/);
});

test('a write of several events that the database refuses is not pinned on any one of them (the batch is handled again, writing per event)', async () => {
  await reset();
  const failure = await inBatch(async (db) => {
    for (let event = 0; event < 10; event++) db.forEvent(event).store.set('balances', { account: `w${event}` }, { balance: event === 4 ? 'not a number' : 1n });
    await db.flushStore();
    return db.settle();
  });
  assert.equal(failure?.eventIndex, undefined);
  assert.match(String((failure?.error as Error).message), /invalid input syntax for type numeric/);
  // Written after every event, the same failure names its event.
  const exact = await inBatch(async (db) => {
    for (let event = 0; event < 10; event++) {
      db.forEvent(event).store.set('balances', { account: `w${event}` }, { balance: event === 4 ? 'not a number' : 1n });
      await db.flushStore();
    }
    return db.settle();
  });
  assert.equal(exact?.eventIndex, 4);
});

test('bad use names what is wrong: no such table, a key that is not the primary key, no such column', async () => {
  await reset();
  const failures = await inBatch(async (db) => {
    const out: string[] = [];
    const { store } = db.forEvent(0);
    await store.get('no_such_table', { id: 1 }).catch((error: Error) => out.push(error.message));
    return out;
  });
  assert.deepEqual(failures, [`store: there is no table no_such_table in schema ${schema}; create it in setup`]);
  const badKey = await inBatch(async (db) => {
    db.forEvent(3).store.set('balances', { owner: 'x' }, { balance: 1n });
    await db.flushStore();
    return db.settle();
  });
  assert.equal(badKey?.eventIndex, 3);
  assert.equal((badKey?.error as Error).message, 'store: the key for balances must name its primary key columns (account), got (owner)');
  const badColumn = await inBatch(async (db) => {
    await pool.query(`INSERT INTO ${schema}.balances (account, balance) VALUES ('c', 1) ON CONFLICT DO NOTHING`);
    const { store } = db.forEvent(5);
    await store.get('balances', { account: 'c' });
    assert.throws(() => store.set('balances', { account: 'c' }, { balanse: 2n }), /store: table balances has no column "balanse"/);
    return db.settle();
  });
  assert.equal(badColumn, undefined);
});
