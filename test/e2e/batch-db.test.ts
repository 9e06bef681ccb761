import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool, inTransaction, type Pool } from '../../src/db/pool';
import { isTransientDatabaseError } from '../../src/db/transient';
import { BatchDb } from '../../src/stages/handlers/batch-db';
import { startPostgres } from '../helpers/stack';

/**
 * The `db` handlers get, on a real PostgreSQL connection in pg's pipeline mode: statements a
 * handler does not await still run in the order issued, and the first that fails names the event
 * whose handler issued it.
 */

let pool: Pool;
let databaseUrl: string;
let stop: () => Promise<void>;
const table = `batch_db_${process.pid}`;

before(async () => {
  const postgres = await startPostgres();
  stop = postgres.stop;
  databaseUrl = postgres.databaseUrl;
  pool = createPool(postgres.databaseUrl, 2, { pipeline: true });
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (seq serial primary key, event integer not null, value numeric not null)`);
});

after(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await pool.end();
  await stop();
});

test('un-awaited statements run in the order issued, and an awaited read sees every one before it', async () => {
  await pool.query(`TRUNCATE ${table}`);
  const seen = await inTransaction(pool, async (client) => {
    const db = new BatchDb(client, "public");
    for (let event = 0; event < 2_000; event++) {
      const dbe = db.forEvent(event).db;
      void dbe.query(`INSERT INTO ${table} (event, value) VALUES ($1, $2)`, [event, '1']);
      void dbe.query(`UPDATE ${table} SET value = value * 10 WHERE event = $1`, [event]);
    }
    const { rows } = await db.forEvent(2_000).db.query<{ n: string; total: string }>(`SELECT count(*) AS n, sum(value) AS total FROM ${table}`);
    assert.equal(await db.settle(), undefined);
    return rows[0];
  });
  // Each update ran after its insert: 2,000 rows of 10.
  assert.deepEqual(seen, { n: '2000', total: '20000' });
  const { rows } = await pool.query<{ event: number }>(`SELECT event FROM ${table} ORDER BY seq`);
  assert.deepEqual(
    rows.map((r) => r.event),
    Array.from({ length: 2_000 }, (_, i) => i),
  );
});

test('an un-awaited statement that fails names its own event, not the later ones it aborted', async () => {
  await pool.query(`TRUNCATE ${table}`);
  const failure = await inTransaction(pool, async (client) => {
    const db = new BatchDb(client, "public");
    for (let event = 0; event < 50; event++) {
      void db.forEvent(event).db.query(`INSERT INTO ${table} (event, value) VALUES ($1, $2)`, [event, event === 17 ? 'not a number' : '1']);
    }
    return db.settle();
  }).catch((error: unknown) => ({ eventIndex: -1, error }));
  assert.equal(failure?.eventIndex, 17);
  assert.match(String((failure!.error as Error).message), /invalid input syntax for type numeric: "not a number"/);
  assert.equal(isTransientDatabaseError(failure!.error), false, "the handler's statement is at fault: the stage pauses");
  // The statements after it were refused by the aborted transaction; the rollback left nothing.
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${table}`);
  assert.equal(rows[0].n, 0);
});

test("a handler that awaits a statement aborted by an earlier event's failure still gets the rejection", async () => {
  const { awaited, first } = await inTransaction(pool, async (client) => {
    const db = new BatchDb(client, "public");
    void db.forEvent(0).db.query(`INSERT INTO ${table} (event, value) VALUES ($1, $2)`, [0, 'x']);
    const awaited = await db.forEvent(1).db.query(`SELECT $1::int AS one`, [1]).then(() => 'resolved', (error: Error) => error.message);
    return { awaited, first: await db.settle() };
  });
  assert.match(awaited, /current transaction is aborted/);
  assert.equal(first?.eventIndex, 0);
});

test('one statement text is prepared once per connection, however many events run it', async () => {
  const prepared = await inTransaction(pool, async (client) => {
    const db = new BatchDb(client, "public");
    for (let event = 0; event < 300; event++) void db.forEvent(event).db.query(`SELECT $1::int + 0 AS same_text_${table}`, [event]);
    await db.settle();
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE $1`, [`%same_text_${table}%`]);
    return rows[0]!.n;
  });
  assert.equal(prepared, 1);
});

test("a connection lost under pipelined statements is a database failure, not the handler's: the batch is retried", async () => {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const db = new BatchDb(client, "public");
    for (let event = 0; event < 20; event++) void db.forEvent(event).db.query(`SELECT pg_sleep($1::float8 / 1000)`, [event === 0 ? 500 : 1]);
    await pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    const failure = await db.settle();
    assert.equal(failure?.eventIndex, 0);
    assert.equal(isTransientDatabaseError(failure!.error), true, `${(failure!.error as Error).message} is transient`);
  } finally {
    client.release(true);
  }
});

test('a failure the handler looked at is its own: rolled back to a savepoint, the batch goes on', async () => {
  await pool.query(`TRUNCATE ${table}`);
  const { failure, rows } = await inTransaction(pool, async (client) => {
    const db = new BatchDb(client, 'public');
    const handler = db.forEvent(0).db;
    await handler.query('SAVEPOINT attempt');
    const outcome = await handler.query(`INSERT INTO ${table} (event, value) VALUES ($1, $2)`, [0, 'bad']).then(() => 'inserted', () => 'refused');
    assert.equal(outcome, 'refused');
    await handler.query('ROLLBACK TO SAVEPOINT attempt');
    void db.forEvent(1).db.query(`INSERT INTO ${table} (event, value) VALUES ($1, $2)`, [1, '1']);
    const failure = (await db.settle()) ?? (await db.swallowedFailure());
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    return { failure, rows };
  });
  assert.equal(failure, undefined);
  assert.equal(rows[0]!.n, 1);
});

test('the earliest-issued failure is named, even when a later statement fails first in the client; the text is not left broken', async () => {
  // pg cannot write a circular object: it fails before sending.
  const unserialisable: Record<string, unknown> = { v: 5 };
  unserialisable.self = unserialisable;
  const text = `INSERT INTO ${table} (event, value) SELECT $1, ($2::jsonb->>'v')::numeric`;
  const failure = await inTransaction(pool, async (client) => {
    const db = new BatchDb(client, 'public');
    void db.forEvent(3).db.query(`INSERT INTO ${table} (event, value) VALUES ($1, $2)`, [3, 'not a number']);
    // A value that cannot be serialised fails before sending, ahead of event 3's answer.
    void db.forEvent(5).db.query(text, [5, unserialisable]);
    return db.settle();
  });
  assert.equal(failure?.eventIndex, 3);
  // The same text on the same connection still works in the next batch.
  const oneConnection = createPool(databaseUrl, 1, { pipeline: true });
  try {
    const failures = [];
    for (const attempt of [0, 1]) {
      failures.push(
        await inTransaction(oneConnection, async (client) => {
          const db = new BatchDb(client, 'public');
          void db.forEvent(0).db.query(text, [7, attempt === 0 ? unserialisable : { v: '7' }]);
          return db.settle();
        }),
      );
    }
    assert.match(String((failures[0]?.error as Error).message), /circular/i);
    assert.equal(failures[1], undefined, 'the statement text works again on that connection');
  } finally {
    await oneConnection.end();
  }
});

test('settle waits for statements issued while it waits', async () => {
  const failure = await inTransaction(pool, async (client) => {
    const db = new BatchDb(client, 'public');
    void db
      .forEvent(0)
      .db.query('SELECT pg_sleep(0.05)')
      .then(() => {
        void db.forEvent(1).db.query(`INSERT INTO ${table} (event, value) VALUES ($1, $2)`, [1, 'late and bad']);
      });
    return db.settle();
  });
  assert.equal(failure?.eventIndex, 1);
});

test('a failure a handler caught without a savepoint is still its failure: the transaction could not commit', async () => {
  const failure = await inTransaction(pool, async (client) => {
    const db = new BatchDb(client, 'public');
    await db.forEvent(0).db.query(`INSERT INTO ${table} (event, value) VALUES ($1, $2)`, [0, '1']);
    await db.forEvent(1).db.query(`INSERT INTO ${table} (event, value) VALUES ($1, $2)`, [1, 'swallowed']).catch(() => undefined);
    await db.forEvent(2).db.query(`SELECT $1::int`, [2]).catch(() => undefined);
    return (await db.settle()) ?? (await db.swallowedFailure());
  });
  assert.equal(failure?.eventIndex, 1);
  assert.match(String((failure!.error as Error).message), /"swallowed"/);
});
