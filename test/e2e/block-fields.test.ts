import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFaultProxy } from '../helpers/fault-proxy';
import { e2e } from '../helpers/fixture';
import { assertMatchesChain, chainRows, EMITTER_TABLES, storedRows } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { eventually, runCli } from '../helpers/workers';

/** Block and transaction fields (DESIGN.md): values equal the chain's, and the upgrade of tables made before them. */

const emitter = compileFixture('Emitter');
const t = e2e();

test('tables made by the previous version (no block_timestamp, tx_index) keep indexing after the upgrade; verify fills the old rows', { timeout: 240_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1n; salt <= 10n; salt++) await t.chain.send(address, emitter.abi, 'emitMany', [2n, salt]);
  const ix = await t.indexer({
    title: 'upgrade',
    config: (name) => ({
      name,
      chains: { local: { id: t.chain.chainId, maxBlockRange: 5, pollIntervalMs: 100 } },
      contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
    }),
  });
  const before = await t.chain.publicClient.getBlockNumber();
  await ix.waitForCheckpoint(before);
  await ix.handle.signal('stop');
  await ix.handle.result();

  // What the previous version left: event tables without the new columns, no stage bookkeeping.
  await t.stack.db.query(`ALTER TABLE "${ix.name}".emitter_transfer DROP COLUMN block_timestamp, DROP COLUMN tx_index`);
  await t.stack.db.query(`DROP TABLE "${ix.name}"._stages, "${ix.name}"._undo_log`);
  const oldRows = await t.stack.db.query(`SELECT count(*)::int AS n FROM "${ix.name}".emitter_transfer`);
  assert.equal(oldRows.rows[0].n, 20);

  for (let salt = 11n; salt <= 15n; salt++) await t.chain.send(address, emitter.abi, 'emitMany', [3n, salt]);
  const started = await runCli(['start', '--config', ix.configPath], ix.env);
  assert.equal(started.code, 0, started.stderr);
  const head = await t.chain.publicClient.getBlockNumber();
  const s = await ix.waitForCheckpoint(head);
  assert.equal(s.paused, false);
  assert.equal(s.lastError, null, 'an upgrade is never a SchemaMismatch pause');

  const { rows: columns } = await t.stack.db.query(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'emitter_transfer' ORDER BY ordinal_position`,
    [ix.name],
  );
  assert.deepEqual(
    columns.map((c) => c.column_name),
    ['chain_id', 'block_number', 'block_hash', 'log_index', 'tx_hash', 'address', 'from', 'to', 'value', 'block_timestamp', 'tx_index'],
    'the new columns are added at the end',
  );
  // Rows stored after the upgrade equal the chain, block fields included; earlier ones have NULL there.
  const rows = await storedRows(t.stack.db, ix.name, 'emitter_transfer', t.chain.chainId);
  const expected = await chainRows(t.chain.publicClient, { abi: emitter.abi, address, chainId: t.chain.chainId, fromBlock: before + 1n, toBlock: head, tables: EMITTER_TABLES });
  assert.deepStrictEqual(
    rows.filter((r) => BigInt(r.block_number as string) > before),
    expected.get('emitter_transfer'),
  );
  const old = rows.filter((r) => BigInt(r.block_number as string) <= before);
  assert.equal(old.length, 20);
  assert.ok(old.every((r) => r.block_timestamp === null && r.tx_index === null), 'rows from before the upgrade have NULL block fields');

  // Verification sees the missing fields as a difference with the chain, and repairs it.
  const verified = await runCli(['verify', ix.name], ix.env);
  assert.equal(verified.code, 0, verified.stderr);
  await eventually('every row equal to the chain', async () => {
    await assertMatchesChain(t.stack.db, t.chain.publicClient, { schema: ix.name, abi: emitter.abi, address, chainId: t.chain.chainId, toBlock: head, tables: EMITTER_TABLES });
    return true;
  });
  await ix.close();
});

test('block_timestamp from the block headers where the RPC leaves blockTimestamp out of the logs, in backfill and realtime', { timeout: 180_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1n; salt <= 6n; salt++) await t.chain.send(address, emitter.abi, 'emitMany', [2n, salt]);
  const proxy = await startFaultProxy(t.chain.url);
  t.defer(() => proxy.stop());
  proxy.fault('noBlockTimestamp', {});
  const ix = await t.indexer({
    title: 'no log timestamps',
    rpc: [proxy.url()],
    config: (name) => ({
      name,
      chains: { local: { id: t.chain.chainId, maxBlockRange: 3, pollIntervalMs: 100 } },
      contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
    }),
  });
  await ix.waitForCheckpoint(await t.chain.publicClient.getBlockNumber());
  for (let salt = 7n; salt <= 9n; salt++) await t.chain.send(address, emitter.abi, 'emitMany', [2n, salt]);
  const head = await t.chain.publicClient.getBlockNumber();
  await ix.waitForCheckpoint(head);

  assert.ok(proxy.counts.noBlockTimestamp > 0, 'the logs came without blockTimestamp');
  const rows = await storedRows(t.stack.db, ix.name, 'emitter_transfer', t.chain.chainId);
  assert.equal(rows.length, 18);
  assert.ok(rows.every((r) => r.block_timestamp !== null), 'every row has its block time');
  // The oracle takes each row's timestamp from its block (eth_getBlockByNumber on the chain itself).
  await assertMatchesChain(t.stack.db, t.chain.publicClient, { schema: ix.name, abi: emitter.abi, address, chainId: t.chain.chainId, toBlock: head, tables: EMITTER_TABLES });
  await ix.close();
});
