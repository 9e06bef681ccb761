import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { encodeFunctionData, type Address } from 'viem';
import {
  BALANCES_HANDLERS,
  MAX_UINT256,
  STORE_BALANCES_HANDLERS,
  chainTransfers,
  comparable,
  expectedBalances,
  storedBalances,
  transferBatch,
  writeModule,
  type TransferBatch,
} from '../helpers/balances';
import { startTestChain, type TestChain } from '../helpers/chain';
import { e2e, type TestIndexer } from '../helpers/fixture';
import { compileFixture } from '../helpers/solidity';
import { startFaultProxy } from '../helpers/fault-proxy';
import { assertOneLineError, eventually, runCli, type WorkerProcess } from '../helpers/workers';

/**
 * Handlers end to end on a real Temporal dev server, PostgreSQL and anvil. The oracle for derived
 * tables is computed from the canonical chain's eth_getLogs by test code (helpers/balances.ts).
 */

const emitter = compileFixture('Emitter');
// anvil keeps every block's state here (no --prune-history): anvil_reorg needs it.
const t = e2e();
const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-handlers-'));

/** `emitMany(count, salt)` from the given dev account (so transfers have several senders). */
async function emitFrom(address: Address, account: number, count: bigint, salt: bigint): Promise<void> {
  const hash = await t.chain.wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitMany', args: [count, salt], account: t.chain.accounts[account]! } as never);
  await t.chain.publicClient.waitForTransactionReceipt({ hash });
}

/**
 * `count` transfers of 18-decimal amounts (and `nearMax` values at 2^256-1, 2^256-2, …, each to a
 * fresh holder) for `emitTransfers`, derived from `salt`; the first four dev accounts, who send
 * them, are among the recipients. A sender's balance drops by about 2^256 per near-max value it
 * sends, and numeric(78,0) ends at 10^78-1 ≈ 8.6 × 2^256: the tests give each sender at most three.
 */
function batch(salt: number, count: number, nearMax = 0): TransferBatch {
  return transferBatch(salt, count, { nearMax, also: t.chain.accounts.slice(0, 4) });
}

/** `emitTransfers(batch)` from the given dev account. */
async function transfersFrom(address: Address, account: number, b: TransferBatch, chain: TestChain = t.chain): Promise<void> {
  const hash = await chain.wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitTransfers', args: [b.to, b.values], account: chain.accounts[account]! } as never);
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, 'success');
}

/** The chain's balances are of the magnitudes the tests mean to cover (the oracle, not the indexer). */
async function assertRealisticMagnitudes(address: Address, chain: TestChain = t.chain): Promise<void> {
  const balances = [...expectedBalances(await chainTransfers(chain.publicClient, address)).balances.values()].map(BigInt);
  const abs = balances.map((b) => (b < 0n ? -b : b));
  assert.ok(balances.some((b) => b > 2n ** 255n), 'a balance near 2^256');
  assert.ok(balances.some((b) => b < -(2n ** 255n)), 'a balance near -2^256');
  assert.ok(abs.filter((b) => b > 10n ** 24n && b < 2n ** 128n).length >= 5, 'balances of millions of tokens and more (18 decimals)');
  assert.ok(abs.every((b) => b < 10n ** 78n), 'every balance fits numeric(78,0)');
}

async function derivedEqualsChain(ix: TestIndexer, address: Address | Address[], chain: TestChain = t.chain): Promise<void> {
  await eventually(
    `${ix.name}: derived tables equal the chain`,
    async () => {
      const head = await chain.publicClient.getBlockNumber();
      const s = await ix.status();
      if (s.checkpoint < Number(head) || !s.handlers || s.handlers.checkpoint < Number(head)) return undefined;
      assert.deepStrictEqual(comparable(await storedBalances(t.stack.db, ix.name)), comparable(expectedBalances(await chainTransfers(chain.publicClient, address, head))));
      return true;
    },
    120_000,
    250,
  );
}

/** Stops the indexer's worker process cleanly (SIGTERM) and starts a new one with the same environment. */
async function replaceWorker(ix: TestIndexer): Promise<WorkerProcess> {
  const old = ix.worker as WorkerProcess;
  old.child.kill('SIGTERM');
  await old.exited;
  return t.workerProcess(ix.env);
}

function balancesConfig(address: Address | Address[], handlers: string, chain: Record<string, unknown> = {}) {
  return (name: string) => ({
    name,
    chains: { local: { id: t.chain.chainId, maxBlockRange: 25, maxInFlight: 3, pollIntervalMs: 100, ...chain } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
    handlers,
  });
}

test('balances and transfer counts of thousands of transfers: backfill with ranges in flight, then realtime', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1n; salt <= 40n; salt++) {
    await emitFrom(address, Number(salt % 4n), 60n, salt % 7n);
    await t.chain.mine(Number(salt % 5n) * 20);
  }
  const handlers = writeModule(dir, 'balances.mjs', BALANCES_HANDLERS);
  const ix = await t.indexer({ title: 'handlers balances', config: balancesConfig(address, handlers) });
  await derivedEqualsChain(ix, address);
  const backfilled = await ix.status();
  assert.ok(backfilled.handlers!.eventsHandled >= 2_400, `handled ${backfilled.handlers!.eventsHandled} events in backfill`);

  for (let salt = 41n; salt <= 50n; salt++) await emitFrom(address, Number(salt % 4n), 5n, salt % 7n);
  await derivedEqualsChain(ix, address);
  const s = await ix.status();
  assert.equal(s.handlers!.lastError, null);
  assert.equal(s.handlers!.lag, 0);
  await ix.close();
});

test('events of two contracts interleaved in the same blocks reach the handlers in chain order', { timeout: 180_000 }, async () => {
  const alpha = await t.chain.deploy(emitter.abi, emitter.bytecode);
  const beta = await t.chain.deploy(emitter.abi, emitter.bytecode);
  // Several transactions to both contracts in each block: automine off, then one block at a time.
  await t.chain.test.setAutomine(false);
  try {
    for (let block = 0; block < 12; block++) {
      for (let i = 0; i < 4; i++) {
        const address = (block + i) % 2 === 0 ? alpha : beta;
        await t.chain.wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitMany', args: [BigInt(1 + ((block + i) % 3)), BigInt(block * 10 + i)] } as never);
      }
      await t.chain.mine(1);
    }
  } finally {
    await t.chain.test.setAutomine(true);
  }
  const handlers = writeModule(
    dir,
    'sequence.mjs',
    `const append = (contract) => async ({ event, db }) => {
       await db.query('insert into sequence (contract, block_number, log_index) values ($1, $2, $3)', [contract, event.block.number, event.log.index]);
     };
     export default {
       async setup({ db }) {
         await db.query('create table if not exists sequence (seq bigserial primary key, contract text not null, block_number bigint not null, log_index integer not null)');
       },
       on: { 'Alpha:Transfer': append('Alpha'), 'Beta:Transfer': append('Beta') },
     };`,
  );
  const ix = await t.indexer({
    title: 'handlers order',
    config: (name) => ({
      name,
      chains: { local: { id: t.chain.chainId, maxBlockRange: 3, maxInFlight: 4, pollIntervalMs: 100 } },
      contracts: [
        { name: 'Alpha', chain: 'local', address: alpha, abi: emitter.abi },
        { name: 'Beta', chain: 'local', address: beta, abi: emitter.abi },
      ],
      handlers,
    }),
  });
  const head = await t.chain.publicClient.getBlockNumber();
  await eventually('the handlers to catch up', async () => ((await ix.status()).handlers!.checkpoint >= Number(head) ? true : undefined), 120_000);
  const logs = [...(await chainTransfers(t.chain.publicClient, [alpha, beta], head))];
  logs.sort((a, b) => Number(a.blockNumber - b.blockNumber) || a.logIndex - b.logIndex);
  const expected = logs.map((l) => [l.address === alpha.toLowerCase() ? 'Alpha' : 'Beta', String(l.blockNumber), l.logIndex]);
  const { rows } = await t.stack.db.query<{ contract: string; block_number: string; log_index: number }>(`SELECT contract, block_number, log_index FROM "${ix.name}".sequence ORDER BY seq`);
  const contractsPerBlock = new Map<bigint, Set<string>>();
  for (const l of logs) contractsPerBlock.set(l.blockNumber, (contractsPerBlock.get(l.blockNumber) ?? new Set()).add(l.address));
  assert.ok([...contractsPerBlock.values()].filter((c) => c.size === 2).length >= 10, 'blocks hold events of both contracts');
  assert.deepStrictEqual(rows.map((r) => [r.contract, r.block_number, r.log_index]), expected);
  await ix.close();
});

test('reorgs of depth 1, 5 and 20 in realtime, and an indexer reset: derived tables equal the canonical chain', { timeout: 300_000 }, async () => {
  // A chain of its own, a few dozen blocks long. On the file's chain (1,700 blocks by now) anvil
  // 1.7 runs anvil_reorg's replacing transactions of a depth-20 reorg on a state without this
  // contract: they succeed and emit nothing (seen from about 1,000 blocks on).
  const chain = await startTestChain();
  t.defer(() => chain.stop());
  const address = await chain.deploy(emitter.abi, emitter.bytecode);
  // 18-decimal amounts; near-max values sent by accounts 2 (salt 5), 0 (salts 12, 24) and 1 (salt 19).
  const nearMax = new Set([5, 12, 19, 24]);
  for (let salt = 1; salt <= 25; salt++) await transfersFrom(address, salt % 3, batch(salt, 1 + (salt % 4), nearMax.has(salt) ? 1 : 0), chain);
  await assertRealisticMagnitudes(address, chain);
  // Through the store: near the head its changes are written once per block, under that block's undo mark.
  const handlers = writeModule(dir, 'balances-reorg.mjs', STORE_BALANCES_HANDLERS);
  const ix = await t.indexer({ title: 'handlers reorgs', config: balancesConfig(address, handlers, { maxReorgDepth: 32 }), chain });
  await derivedEqualsChain(ix, address, chain);

  // The replacing transactions carry such values too (with the ones above, at most two near-max values per sender).
  const tx = (count: number, salt: number, account = 1, nearMaxValues = 0) => {
    const b = batch(salt, count, nearMaxValues);
    return { values: b.values, request: { from: chain.accounts[account]!, to: address, data: encodeFunctionData({ abi: emitter.abi, functionName: 'emitTransfers', args: [b.to, b.values] }) } };
  };
  const reorg = async (depth: number, txs: Array<[ReturnType<typeof tx>, number]>) => {
    await chain.publicClient.request({ method: 'anvil_reorg' as never, params: [depth, txs.map(([r, offset]) => [r.request, offset])] as never });
    // The replacing transactions' transfers are on the canonical chain (the oracle would not notice their absence).
    const values = new Set((await chainTransfers(chain.publicClient, address)).map((l) => l.value));
    const missing = txs.flatMap(([r]) => r.values).filter((v) => !values.has(v));
    assert.deepStrictEqual(missing, [], `anvil_reorg(${depth}) put every replacing transfer on the chain`);
  };
  const reorgs = async (n: number) => eventually(`${n} reorgs`, async () => ((await ix.status()).reorgs >= n ? true : undefined), 60_000);

  await reorg(1, [[tx(9, 101, 1, 1), 0]]);
  await reorgs(1);
  await derivedEqualsChain(ix, address, chain);
  // The same block's events replaced by others (other senders, other amounts).
  await reorg(5, [[tx(2, 201, 2), 0], [tx(4, 202, 3, 2), 4]]);
  await reorgs(2);
  await derivedEqualsChain(ix, address, chain);
  await reorg(20, [[tx(3, 301), 1], [tx(1, 302, 2, 1), 7], [tx(6, 303, 0), 19]]);
  await reorgs(3);
  await derivedEqualsChain(ix, address, chain);
  const undone = await t.stack.db.query(`SELECT count(*)::int AS n FROM "${ix.name}"._undo_log`);
  assert.ok(undone.rows[0].n > 0, 'the undo log holds the recent changes');

  const head = Number(await chain.publicClient.getBlockNumber());
  const reset = await runCli(['reset', ix.name, '--to-block', String(head - 12)], ix.env);
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /\(([1-9]\d*) rows? deleted\)/, 'the reset removed the blocks it rolled back');
  await transfersFrom(address, 2, batch(401, 3), chain);
  await derivedEqualsChain(ix, address, chain);
  await ix.close();
});

/** A slow balances handler, so a batch is caught in the middle; a raw statement among store changes (each event's changes written before it). */
const SLOW_BALANCES = STORE_BALANCES_HANDLERS.replace("const { from, to, value } = event.args;", "const { from, to, value } = event.args;\n      await db.query('select pg_sleep(0.003)');");

test('the worker is SIGKILLed twice during handler batches: every balance is counted exactly once', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  // 18-decimal amounts; one near-max value each from accounts 3 (salt 3), 2 (10), 1 (21) and 0 (36).
  const nearMax = new Set([3, 10, 21, 36]);
  for (let salt = 1; salt <= 40; salt++) await transfersFrom(address, salt % 4, batch(salt, 50, nearMax.has(salt) ? 1 : 0));
  await assertRealisticMagnitudes(address);
  const handlers = writeModule(dir, 'balances-slow.mjs', SLOW_BALANCES);
  const ix = await t.indexer({ title: 'handlers sigkill', config: balancesConfig(address, handlers), worker: 'process' });
  let worker = ix.worker as WorkerProcess;
  for (let kill = 1; kill <= 2; kill++) {
    // A handlers batch in progress: a transaction that has written to the derived tables and not committed.
    await eventually(
      `a handlers batch in progress (kill ${kill})`,
      async () => {
        const { rows } = await t.stack.db.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'temporal-evm-indexer' AND backend_xid IS NOT NULL
              AND state IN ('active', 'idle in transaction') AND (query LIKE '%pg_sleep%' OR query LIKE '%balances%' OR query LIKE '%transfer_counts%')`,
        );
        return rows.length > 0 ? true : undefined;
      },
      120_000,
      20,
    );
    worker.child.kill('SIGKILL');
    await worker.exited;
    worker = t.workerProcess(ix.env);
  }
  await derivedEqualsChain(ix, address);
  await ix.close();
});

test('a handler that throws pauses the handlers stage, not ingest; fixed, restarted and resumed, it continues at that event', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1n; salt <= 12n; salt++) await emitFrom(address, Number(salt % 3n), 3n, salt);
  // Value 7000001 is salt 7's second transfer (value = salt * 1e6 + i).
  const broken = BALANCES_HANDLERS.replace("const { from, to, value } = event.args;", "const { from, to, value } = event.args;\n      if (value === 7000001n) throw new Error('cannot handle 7000001');");
  const handlers = writeModule(dir, 'balances-broken.mjs', broken);
  const ix = await t.indexer({ title: 'handlers throw', config: balancesConfig(address, handlers), worker: 'process' });
  const paused = await eventually('the handlers stage to pause', async () => {
    const s = await ix.status();
    return s.handlers!.paused ? s : undefined;
  });
  const failing = (await chainTransfers(t.chain.publicClient, address)).find((l) => l.value === 7000001n)!;
  assert.equal(paused.handlers!.lastError, `handler Emitter:Transfer failed at block ${failing.blockNumber} log ${failing.logIndex}: cannot handle 7000001`);
  assert.equal(paused.handlers!.checkpoint, Number(failing.blockNumber) - 1);
  assert.equal(paused.paused, false, 'ingest is not paused');

  for (let salt = 13n; salt <= 15n; salt++) await emitFrom(address, 1, 2n, salt);
  const head = await t.chain.publicClient.getBlockNumber();
  await ix.waitForCheckpoint(head);
  assert.equal((await ix.status()).handlers!.paused, true, 'the stage stays paused while ingest goes on');

  writeModule(dir, 'balances-broken.mjs', BALANCES_HANDLERS);
  await replaceWorker(ix);
  const resumed = await runCli(['resume', ix.name], ix.env);
  assert.equal(resumed.code, 0, resumed.stderr);
  await derivedEqualsChain(ix, address);
  assert.equal((await ix.status()).handlers!.lastError, null);
  await ix.close();
});

/** Runs `module` on 27 transfers (salts 1-9, 3 each) and expects the stage paused right before the transfer of `value`, with `message`. */
async function pausesAtTransfer(title: string, module: string, value: bigint, message: string): Promise<void> {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1n; salt <= 9n; salt++) await emitFrom(address, Number(salt % 3n), 3n, salt);
  const ix = await t.indexer({ title, config: balancesConfig(address, writeModule(dir, `${title.replace(/\W+/g, '-')}.mjs`, module)) });
  const paused = await eventually('the handlers stage to pause', async () => {
    const s = await ix.status();
    return s.handlers!.paused ? s : undefined;
  });
  const failing = (await chainTransfers(t.chain.publicClient, address)).find((l) => l.value === value)!;
  assert.equal(paused.handlers!.lastError, `handler Emitter:Transfer failed at block ${failing.blockNumber} log ${failing.logIndex}: ${message}`);
  assert.equal(paused.handlers!.checkpoint, Number(failing.blockNumber) - 1);
  await ix.close();
}

test('a statement a handler did not await fails: the stage pauses at the event that issued it, with the database error', { timeout: 300_000 }, async () => {
  // Value 5000002 is salt 5's third transfer; its un-awaited statement is refused by the server,
  // while the statements of the events after it in the batch are already sent.
  const broken = BALANCES_HANDLERS.replace(
    'const { from, to, value } = event.args;',
    "const { from, to, value } = event.args;\n      if (value === 5000002n) db.query('insert into balances values ($1, $2)', [to, 'not a number']);",
  );
  await pausesAtTransfer('handlers unawaited', broken, 5000002n, 'invalid input syntax for type numeric: "not a number"');
});

test("a store write the database refuses, carrying many events' changes: the stage pauses at the event whose change it was", { timeout: 300_000 }, async () => {
  // Value 5000002's change is written with the other events' changes of its batch (one statement
  // per table), so the batch is handled again, writing after every event, to name it. (The
  // handler's own count change then makes it "many1".)
  const broken = STORE_BALANCES_HANDLERS.replace(
    'const { from, to, value } = event.args;',
    "const { from, to, value } = event.args;\n      if (value === 5000002n) store.set('transfer_counts', { account: from }, { sent: 'many' });",
  );
  await pausesAtTransfer('handlers store write', broken, 5000002n, 'invalid input syntax for type integer: "many1"');
});

test('indexer rebuild after a handler changed: derived tables equal the new oracle, and no RPC request is made', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  // 18-decimal amounts; near-max values from accounts 2 (salt 2), 1 (salt 7: two, and salt 99 below) and 0 (salt 12).
  const nearMax = new Map([[2, 1], [7, 2], [12, 1]]);
  for (let salt = 1; salt <= 15; salt++) await transfersFrom(address, salt % 3, batch(salt, 4, nearMax.get(salt) ?? 0));
  await assertRealisticMagnitudes(address);
  const proxy = await startFaultProxy(t.chain.url);
  t.defer(() => proxy.stop());
  const handlers = writeModule(dir, 'balances-rebuild.mjs', BALANCES_HANDLERS);
  const ix = await t.indexer({ title: 'handlers rebuild', config: balancesConfig(address, handlers), worker: 'process', rpc: [proxy.url()] });
  await derivedEqualsChain(ix, address);

  // The new handler ignores transfers of odd values.
  writeModule(dir, 'balances-rebuild.mjs', BALANCES_HANDLERS.replace("const { from, to, value } = event.args;", "const { from, to, value } = event.args;\n      if (value % 2n === 1n) return;"));
  assert.equal((await runCli(['pause', ix.name], ix.env)).code, 0);
  await eventually('nothing in flight', async () => {
    const description = await ix.handle.describe();
    return (await ix.status()).mode === 'paused' && (description.raw.pendingActivities ?? []).length === 0 ? true : undefined;
  });
  const next = await replaceWorker(ix);
  await eventually('the new worker', async () => (next.output().includes('worker started') ? true : undefined));
  const requestsBefore = proxy.stats.requests;

  const rebuild = await runCli(['rebuild', ix.name], ix.env, { timeoutMs: 120_000 });
  assert.equal(rebuild.code, 0, rebuild.stderr);
  assert.match(rebuild.stdout, /derived tables emptied, setup ran/);
  assert.match(rebuild.stdout, /caught up/);
  assert.equal(proxy.stats.requests - requestsBefore, 0, 'the rebuild made no RPC request');
  const head = await t.chain.publicClient.getBlockNumber();
  const transfers = (await chainTransfers(t.chain.publicClient, address, head)).filter((l) => l.value % 2n === 0n);
  assert.ok(transfers.some((l) => l.value > MAX_UINT256 - 10n), 'the new oracle keeps a value near 2^256');
  assert.deepStrictEqual(comparable(await storedBalances(t.stack.db, ix.name)), comparable(expectedBalances(transfers)));

  assert.equal((await runCli(['resume', ix.name], ix.env)).code, 0);
  await transfersFrom(address, 1, batch(99, 4, 1));
  await eventually('realtime after the rebuild', async () => {
    const now = await t.chain.publicClient.getBlockNumber();
    if ((await ix.status()).handlers!.checkpoint < Number(now)) return undefined;
    const all = (await chainTransfers(t.chain.publicClient, address, now)).filter((l) => l.value % 2n === 0n);
    assert.deepStrictEqual(comparable(await storedBalances(t.stack.db, ix.name)), comparable(expectedBalances(all)));
    return true;
  });
  await ix.close();
});

test('bad handlers input: a missing module, a key naming no configured event, a setup that fails: one-line errors, nothing written', { timeout: 180_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  const cases = [
    { file: path.join(dir, 'no-such-handlers.mjs'), expected: /handlers: .*no-such-handlers\.mjs could not be loaded: file not found/ },
    {
      file: writeModule(dir, 'bad-key.mjs', "export default { on: { 'Emitter:Transfr': async () => {} } };"),
      expected: /handlers: "Emitter:Transfr" names no configured event \(configured: Emitter:Transfer\)/,
    },
  ];
  for (const c of cases) {
    const ix = await t.indexer({ title: 'handlers bad input', config: balancesConfig(address, c.file), worker: 'none', start: false });
    const run = await runCli(['start', '--config', ix.configPath], ix.env);
    assertOneLineError(run, c.expected, path.basename(c.file));
    assert.equal((await t.stack.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [ix.name])).rows.length, 0, 'no schema');
  }

  const failingSetup = writeModule(dir, 'bad-setup.mjs', "export default { async setup({ db }) { await db.query('create table broken (x no_such_type)'); }, on: {} };");
  const ix = await t.indexer({ title: 'handlers bad setup', config: balancesConfig(address, failingSetup) });
  const paused = await eventually('the indexer to pause', async () => {
    const s = await ix.status();
    return s.paused ? s : undefined;
  });
  assert.match(paused.lastError ?? '', /^handlers setup failed: type "no_such_type" does not exist; fix setup in .*bad-setup\.mjs/);
  assert.doesNotMatch(paused.lastError ?? '', /\n/);
  assert.equal((await t.stack.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [ix.name])).rows.length, 0, 'nothing written: not even the schema');
  await ix.close();
});
