import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { buildSpecs } from '../../src/config/resolve';
import { writeCheckpoint } from '../../src/db/checkpoint';
import { createPool, type Pool, type PoolClient } from '../../src/db/pool';
import { stageRuntimes } from '../../src/stages/runtimes';
import { rollbackTo } from '../../src/db/rollback';
import { ensureSchema } from '../../src/db/schema';
import { writeRange } from '../../src/db/writer';
import { handleBatch, runSetup, type HandlersTarget, type NextBatch } from '../../src/stages/handlers/batch';
import { handleBatches } from '../../src/stages/handlers/overlapped';
import { bindHandlers, importHandlers } from '../../src/stages/handlers/module';
import { LogRouter, type DecodedLog } from '../../src/indexing/log-router';
import { TRANSFER_EVENT } from '../helpers/abis';
import { startPostgres } from '../helpers/stack';

/**
 * Handler batches on stored events, without a workflow: a batch reads the next batch's events with
 * its first statements, where the last batch left off. Those events are the batch's only if its
 * cursor and bound are still what the last batch saw; a rollback in between moves them, and the
 * batch then reads its own. The oracle is the stored events themselves, read back here.
 */

const CHAIN = 31337;
const ADDRESS = '0x00000000000000000000000000000000000000aa';
let pool: Pool;
let stop: () => Promise<void>;
let target: HandlersTarget;
const schema = `handler_batches_${process.pid}`;

// Every handled event leaves a row: what it was, so the test sees each one handled exactly once
// (a second time is a primary key violation). The handler also counts its calls in this process,
// throws at the event globalThis.failAt names (block * 1000 + log index), when set, and with
// globalThis.laterTable creates a table of its own and marks each block's first event in it.
const HANDLERS = `
export default {
  async setup({ db }) {
    await db.query('create table seen (block_number bigint, log_index integer, value numeric(78,0), primary key (block_number, log_index))');
  },
  on: {
    'Token:Transfer'({ event, db }) {
      globalThis.handledEvents = (globalThis.handledEvents ?? 0) + 1;
      if (globalThis.failAt === event.block.number * 1000 + event.log.index) throw new Error('planned failure');
      if (globalThis.laterTable && event.log.index === 0) {
        db.query('create table if not exists later (block_number bigint primary key)');
        db.query('insert into later values ($1)', [event.block.number]);
      }
      db.query('insert into seen values ($1, $2, $3)', [event.block.number, event.log.index, event.args.value.toString()]);
    },
  },
};
`;
const planned = globalThis as { handledEvents?: number; failAt?: number; laterTable?: boolean };

before(async () => {
  const postgres = await startPostgres();
  stop = postgres.stop;
  pool = createPool(postgres.databaseUrl, 4, { pipeline: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'handler-batches-'));
  const file = path.join(dir, 'handlers.mjs');
  writeFileSync(file, HANDLERS);
  const [spec] = buildSpecs(
    parseConfig({ name: schema, chains: { local: { id: CHAIN } }, contracts: [{ name: 'Token', chain: 'local', address: ADDRESS, abi: [TRANSFER_EVENT], startBlock: 1 }], handlers: file }, dir),
    () => undefined,
  );
  const tables = new LogRouter(spec!).tables;
  target = { pool, spec: spec!, tables, handlers: bindHandlers(await importHandlers(file), tables) };
  await ensureSchema(pool, schema, [...tables], { stageDdl: stageRuntimes.flatMap((stage) => stage.ddl(schema)), then: (client) => runSetup(client, target) });
  await writeCheckpoint(pool, schema, CHAIN, 0);
});

after(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await pool.end();
  await stop();
});

/** `perBlock` Transfers in each block of [from, to]; `fork` changes hashes and values (another chain's blocks). */
async function storeBlocks(from: number, to: number, perBlock: number, options: { fork: number; advance: boolean }): Promise<void> {
  const hash = (n: number, kind: number) => `0x${kind.toString(16).padStart(2, '0')}${options.fork.toString(16).padStart(2, '0')}${n.toString(16).padStart(60, '0')}`;
  const logs: DecodedLog[] = [];
  for (let block = from; block <= to; block++) {
    for (let i = 0; i < perBlock; i++) {
      logs.push({
        table: target.tables[0]!.table,
        blockNumber: block,
        blockHash: hash(block, 1),
        blockTimestamp: 1_700_000_000 + block,
        logIndex: i,
        txHash: hash(block * 100 + i, 2),
        txIndex: i,
        address: ADDRESS,
        args: [`0x${'1'.repeat(40)}`, `0x${'2'.repeat(40)}`, String(options.fork * 1_000_000 + block * 100 + i)],
      });
    }
  }
  await writeRange(pool, {
    schema,
    chainId: CHAIN,
    fromBlock: from,
    toBlock: to,
    tables: [...target.tables],
    logs,
    blocks: [],
    advanceCheckpoint: options.advance,
  });
}

async function handledCheckpoint(): Promise<number> {
  const { rows } = await pool.query(`SELECT block_number, log_index FROM "${schema}"._stages WHERE chain_id = $1 AND stage = 'handlers'`, [CHAIN]);
  return rows[0].log_index === 2_147_483_647 ? Number(rows[0].block_number) : Number(rows[0].block_number) - 1;
}

/** The derived rows equal the stored events up to the handlers' cursor (block, log index), one each. */
async function assertHandledExactlyTheStored(): Promise<void> {
  const cursor = (await pool.query(`SELECT block_number, log_index FROM "${schema}"._stages WHERE chain_id = $1 AND stage = 'handlers'`, [CHAIN])).rows[0];
  const stored = await pool.query(
    `SELECT block_number::int AS b, log_index AS i, value::text AS v FROM "${schema}".token_transfer WHERE (block_number, log_index) <= ($1, $2) ORDER BY 1, 2`,
    [cursor.block_number, cursor.log_index],
  );
  const seen = await pool.query(`SELECT block_number::int AS b, log_index AS i, value::text AS v FROM "${schema}".seen ORDER BY 1, 2`);
  assert.deepEqual(seen.rows, stored.rows);
}

async function rollback(ancestor: number, key: string): Promise<void> {
  await rollbackTo(
    pool,
    { schema, chainId: CHAIN, tables: target.tables.map((t) => t.table), eventTables: target.tables, ancestor, detectedBlock: ancestor + 1, depth: 1, oldHash: null, newHash: null, reason: 'reorg', key },
    stageRuntimes.map((stage) => stage.rewind),
  );
}

test('a rollback between two batches moves the cursor: the next batch reads its own events, not those read for it', async () => {
  await storeBlocks(1, 10, 10, { fork: 1, advance: true });
  const first = await handleBatch(target, 10, 25);
  assert.equal(first.events, 25);
  assert.deepEqual(first.next?.after, { block: 3, logIndex: 4 });
  await assertHandledExactlyTheStored();

  // Blocks 2-10 replaced by another chain's (5 Transfers each): the cursor goes back to block 1.
  await rollback(1, 'test-cursor-moved');
  await storeBlocks(2, 10, 5, { fork: 2, advance: true });
  const second = await handleBatch(target, 10, 25, first.next);
  assert.equal(second.events, 25);
  assert.equal(await handledCheckpoint(), 5);
  await assertHandledExactlyTheStored();
  const third = await handleBatch(target, 10, 25, second.next);
  assert.equal(third.caughtUp, true);
  assert.equal(await handledCheckpoint(), 10);
  await assertHandledExactlyTheStored();
});

test('a rollback above the cursor lowers the bound: events past the new checkpoint wait, even where a range in flight stored them', async () => {
  await storeBlocks(11, 20, 10, { fork: 3, advance: true });
  const first = await handleBatch(target, 20, 25);
  assert.deepEqual(first.next, { after: { block: 13, logIndex: 4 }, upTo: 20 } satisfies NextBatch);

  // Back to block 14; blocks 17-20 of the new chain are stored by a range whose predecessor is not, so the checkpoint stays at 14.
  await rollback(14, 'test-bound-lowered');
  await storeBlocks(17, 20, 10, { fork: 4, advance: false });
  const second = await handleBatch(target, 20, 100, first.next);
  assert.equal(second.caughtUp, true);
  assert.equal(await handledCheckpoint(), 14);
  await assertHandledExactlyTheStored();

  await storeBlocks(15, 16, 10, { fork: 4, advance: true });
  await pool.query(`UPDATE "${schema}"._checkpoints SET block_number = 20 WHERE chain_id = $1`, [CHAIN]);
  const third = await handleBatch(target, 20, 100, second.next);
  assert.equal(third.caughtUp, true);
  assert.equal(await handledCheckpoint(), 20);
  await assertHandledExactlyTheStored();
});

test('changes are recorded for undo only within reach of a reorg of the head the workflow saw, not of the stored checkpoint', async () => {
  const undoRows = async (from: number, to: number) =>
    (await pool.query(`SELECT count(*)::int AS n FROM "${schema}"._undo_log WHERE block_number BETWEEN $1 AND $2`, [from, to])).rows[0].n as number;
  // The head right above: a reorg may reach these blocks, so every change is recorded.
  await storeBlocks(21, 30, 10, { fork: 5, advance: true });
  assert.equal((await handleBatch({ ...target, head: 30 }, 30, 1_000)).caughtUp, true);
  assert.equal(await undoRows(21, 30), 100);
  // The head far above (a backfill): 2 × maxReorgDepth below it nothing can be reorganised, so
  // nothing is recorded, and the records up to there go.
  await storeBlocks(31, 40, 10, { fork: 5, advance: true });
  const { maxReorgDepth, confirmations } = target.spec.tuning;
  assert.equal((await handleBatch({ ...target, head: 40 + 2 * maxReorgDepth + confirmations + 10 }, 40, 1_000)).caughtUp, true);
  assert.equal(await undoRows(1, 40), 0);
  await assertHandledExactlyTheStored();
});

test('blocks replaced above the cursor up to the same checkpoint: the events read with the next batch are the new ones', async () => {
  await storeBlocks(41, 50, 10, { fork: 6, advance: true });
  await storeBlocks(51, 60, 10, { fork: 6, advance: true });
  const first = await handleBatch(target, 60, 25);
  assert.deepEqual(first.next, { after: { block: 43, logIndex: 4 }, upTo: 60 } satisfies NextBatch);
  // The cursor and the bound the next batch expects stay as they were; the events after it change.
  await rollback(44, 'test-replaced-above-cursor');
  await storeBlocks(45, 60, 10, { fork: 7, advance: true });
  const second = await handleBatch(target, 60, 1_000, first.next);
  assert.equal(second.caughtUp, true);
  assert.equal(await handledCheckpoint(), 60);
  await assertHandledExactlyTheStored();
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".seen WHERE block_number BETWEEN 45 AND 60 AND value >= 7000000 AND value < 8000000`);
  assert.equal(rows[0].n, 160, "every event of blocks 45-60 was handled as the new chain's");
});

/** Holds the handlers' cursor in a transaction of its own, as the batch before does until it commits; `then` runs in it before COMMIT. */
async function holdingTheCursor(then: (client: PoolClient) => Promise<void>): Promise<{ release: () => Promise<void> }> {
  const client = await pool.connect();
  await client.query('BEGIN');
  await client.query(`SELECT 1 FROM "${schema}"._stages WHERE chain_id = $1 AND stage = 'handlers' FOR UPDATE`, [CHAIN]);
  return {
    release: async () => {
      try {
        await then(client);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    },
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), 'waited 5 s');
}

test('a batch begun while the one before holds the cursor runs its handlers at once; it commits where that one ended, and reads again where it did not', async () => {
  await storeBlocks(61, 70, 10, { fork: 8, advance: true });
  const first = await handleBatch(target, 70, 25);
  assert.deepEqual(first.next?.after, { block: 63, logIndex: 4 });

  // The batch before ends where this one's events start.
  let holder = await holdingTheCursor(async () => undefined);
  planned.handledEvents = 0;
  const second = handleBatch(target, 70, 25, first.next);
  await until(() => planned.handledEvents === 25);
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".seen WHERE block_number > 63`);
  assert.equal(rows[0].n, 0, 'its handlers ran; nothing of theirs is committed while the cursor is held');
  await holder.release();
  const done = await second;
  assert.equal(done.events, 25);
  assert.deepEqual(done.next?.after, { block: 65, logIndex: 9 });
  await assertHandledExactlyTheStored();

  // The batch before went five events further than this one was told (it handled them itself):
  // the events read ahead are not this batch's; handled again, they would be seen twice.
  holder = await holdingTheCursor(async (client) => {
    await client.query(`INSERT INTO "${schema}".seen SELECT block_number, log_index, value FROM "${schema}".token_transfer WHERE (block_number, log_index) > (65, 9) AND (block_number, log_index) <= (66, 4)`);
    await client.query(`UPDATE "${schema}"._stages SET block_number = 66, log_index = 4 WHERE chain_id = $1 AND stage = 'handlers'`, [CHAIN]);
  });
  planned.handledEvents = 0;
  const third = handleBatch(target, 70, 25, done.next);
  await until(() => planned.handledEvents === 25);
  await holder.release();
  const redone = await third;
  assert.equal(redone.events, 25);
  assert.deepEqual(redone.next?.after, { block: 68, logIndex: 9 }, 'read again from where the cursor stood');
  await assertHandledExactlyTheStored();
  assert.equal((await handleBatch(target, 70, 1_000, redone.next)).caughtUp, true);
  await assertHandledExactlyTheStored();
});

test('two batches in flight, and a handler fails in the first: the cursor stands right before its event, and the one begun beside it commits nothing', async () => {
  await storeBlocks(71, 80, 10, { fork: 9, advance: true });
  planned.failAt = 74 * 1000 + 3; // in the second batch of 25: the third is under way beside it
  try {
    const failed = await handleBatches(target, 80, 25, 60_000);
    assert.deepEqual(failed.failure && { block: failed.failure.block, logIndex: failed.failure.logIndex, message: failed.failure.message }, { block: 74, logIndex: 3, message: 'planned failure' });
    assert.equal(failed.events, 25 + 8);
    const cursor = (await pool.query(`SELECT block_number::int AS b, log_index AS i FROM "${schema}"._stages WHERE chain_id = $1 AND stage = 'handlers'`, [CHAIN])).rows[0];
    assert.deepEqual(cursor, { b: 74, i: 2 });
    await assertHandledExactlyTheStored();
  } finally {
    planned.failAt = undefined;
  }
  const resumed = await handleBatches(target, 80, 25, 60_000);
  assert.equal(resumed.caughtUp, true);
  assert.equal(resumed.failure, undefined);
  assert.equal(await handledCheckpoint(), 80);
  await assertHandledExactlyTheStored();
});

test('a table a handler creates gets its undo trigger before the next batch writes it, though that batch began before the table was committed', async () => {
  await storeBlocks(81, 90, 10, { fork: 10, advance: true });
  planned.laterTable = true;
  try {
    // The head right above: every change from the next batch on is recorded for undo.
    const done = await handleBatches({ ...target, head: 90 }, 90, 25, 60_000);
    assert.equal(done.caughtUp, true);
  } finally {
    planned.laterTable = false;
  }
  await assertHandledExactlyTheStored();
  const { rows } = await pool.query(`SELECT block_number::int AS b FROM "${schema}"._undo_log WHERE table_name = 'later' ORDER BY 1`);
  // Blocks 81-83 are the first batch's (it made the table); 84 and 85 the second's, begun beside it.
  assert.deepEqual(rows.map((r) => r.b), [84, 85, 86, 87, 88, 89, 90]);
});

test('the batch after this one is told where to start only once this one holds the cursor: begun earlier, it could take the lock first and wait for this one for good', async () => {
  await storeBlocks(91, 95, 10, { fork: 11, advance: true });
  const first = await handleBatch(target, 95, 10);
  const holder = await holdingTheCursor(async () => undefined);
  let told: NextBatch | undefined | 'not yet' = 'not yet';
  planned.handledEvents = 0;
  const second = handleBatch(target, 95, 10, first.next, { onNext: (next) => (told = next) });
  await until(() => planned.handledEvents === 10);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(told, 'not yet', 'its handlers ran, but the next batch is not begun while another transaction holds the cursor');
  await holder.release();
  const done = await second;
  assert.deepEqual(told, { after: { block: 92, logIndex: 9 }, upTo: 95 });
  assert.deepEqual(done.next, told);
  assert.equal((await handleBatch(target, 95, 1_000, done.next)).caughtUp, true);
  await assertHandledExactlyTheStored();
});
