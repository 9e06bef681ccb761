import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { decodeEventLog, encodeFunctionData, parseAbi, type Address } from 'viem';
import { startNatsServer, type NatsServer } from '../../src/dev/nats-server';
import { NON_RETRYABLE_ERROR_TYPES, StreamUnavailableError } from '../../src/errors';
import { messageId, type StreamBody, type StreamMessage } from '../../src/stages/stream/message';
import { publishInOrder } from '../../src/stages/stream/publisher';
import { STORE_BALANCES_HANDLERS, chainTransfers, comparable, expectedBalances, storedBalances, transferBatch, writeModule } from '../helpers/balances';
import { e2e, type TestIndexer } from '../helpers/fixture';
import { natsConnect, readStream, replay, type Seen } from '../helpers/nats';
import { freePort } from '../helpers/ports';
import { compileFixture } from '../helpers/solidity';
import { INDEXER_BIN, REPO_ROOT, assertOneLineError, eventually, runCli, spawnWorkerProcess, type WorkerProcess } from '../helpers/workers';

/**
 * The stream stage end to end: real NATS JetStream (the machine's server on 4222, and servers of
 * this file's own where one must restart or is not there yet), Temporal, PostgreSQL and anvil. The
 * oracle is the chain's eth_getLogs, decoded here; the stream is read back as a consumer reads it.
 */

const SHARED_NATS = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const emitter = compileFixture('Emitter');
const transferAbi = parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)']);
// anvil keeps every block's state (no --prune-history): anvil_reorg needs it.
const t = e2e();
const natsDirs = mkdtempSync(path.join(os.tmpdir(), 'indexer-stream-nats-'));
const handlersDir = mkdtempSync(path.join(os.tmpdir(), 'indexer-stream-handlers-'));

async function emit(address: Address, count: number, salt: number, account = 0): Promise<void> {
  const hash = await t.chain.wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitMany', args: [BigInt(count), BigInt(salt)], account: t.chain.accounts[account]! } as never);
  await t.chain.publicClient.waitForTransactionReceipt({ hash });
}

async function ownNats(options: { user?: string; pass?: string; port?: number } = {}): Promise<NatsServer> {
  const server = await startNatsServer({ port: options.port ?? (await freePort()), storeDir: mkdtempSync(path.join(natsDirs, 'store-')), ...options });
  t.defer(() => server.stop('SIGKILL'));
  return server;
}

async function connected(url: string): Promise<NatsConnection> {
  const nc = await natsConnect(url);
  t.defer(() => nc.close());
  return nc;
}

function streamConfig(address: Address, stream: Record<string, unknown>, chain: Record<string, unknown> = {}) {
  return (name: string) => ({
    name,
    chains: { local: { id: t.chain.chainId, maxBlockRange: 500, maxInFlight: 3, pollIntervalMs: 100, ...chain } },
    contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
    stream,
  });
}

/** The chain's events as stream bodies, in chain order: the oracle, decoded apart from the indexer. */
async function chainBodies(ix: TestIndexer, address: Address, toBlock: bigint): Promise<StreamBody[]> {
  const logs = [];
  // Pages of blocks: some hold 500 events, and one answer for all of them is too large for viem.
  for (let from = 0n; from <= toBlock; from += 8n) {
    const to = from + 7n < toBlock ? from + 7n : toBlock;
    logs.push(...(await t.chain.publicClient.getLogs({ address, event: transferAbi[0], fromBlock: from, toBlock: to })));
  }
  const timestamps = await storedTimestamps(ix);
  return logs.map((log) => {
    const { args } = decodeEventLog({ abi: transferAbi, data: log.data, topics: log.topics });
    return {
      chainId: t.chain.chainId,
      contract: 'Emitter',
      event: 'Transfer',
      blockNumber: Number(log.blockNumber),
      blockHash: log.blockHash!.toLowerCase(),
      blockTimestamp: timestamps?.get(`${log.blockNumber}:${log.logIndex}`) ?? null,
      logIndex: log.logIndex!,
      txHash: log.transactionHash!.toLowerCase(),
      address: log.address.toLowerCase(),
      args: { from: args.from.toLowerCase(), to: args.to.toLowerCase(), value: args.value.toString() },
      removed: false,
    };
  });
}

/** Block timestamps as the stored rows hold them, once the tables have the column (null until then, like the stream's). */
async function storedTimestamps(ix: TestIndexer): Promise<Map<string, number | null> | undefined> {
  const { rows: has } = await t.stack.db.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'emitter_transfer' AND column_name = 'block_timestamp'`, [ix.name]);
  if (has.length === 0) return undefined;
  const { rows } = await t.stack.db.query<{ b: string; l: number; ts: string | null }>(
    `SELECT block_number AS b, log_index AS l, extract(epoch FROM block_timestamp)::bigint::text AS ts FROM "${ix.name}".emitter_transfer`,
  );
  return new Map(rows.map((r) => [`${r.b}:${r.l}`, r.ts === null ? null : Number(r.ts)]));
}

/** The stored rows as stream bodies: the stream must carry exactly them. */
async function storedBodies(ix: TestIndexer): Promise<StreamBody[]> {
  const timestamps = await storedTimestamps(ix);
  const { rows } = await t.stack.db.query(`SELECT * FROM "${ix.name}".emitter_transfer WHERE chain_id = $1 ORDER BY block_number, log_index`, [t.chain.chainId]);
  return rows.map((r) => ({
    chainId: t.chain.chainId,
    contract: 'Emitter',
    event: 'Transfer',
    blockNumber: Number(r.block_number),
    blockHash: r.block_hash,
    blockTimestamp: timestamps?.get(`${r.block_number}:${r.log_index}`) ?? null,
    logIndex: r.log_index,
    txHash: r.tx_hash,
    address: r.address,
    args: { from: r.from, to: r.to, value: r.value },
    removed: false,
  }));
}

const streamName = (ix: TestIndexer) => `INDEXER_${ix.name.toUpperCase()}`;
const chainFilter = (ix: TestIndexer) => `indexer.${ix.name}.${t.chain.chainId}.>`;

/** Waits until the stream stage has published everything up to the chain's head (or `block`), then reads the stream. */
async function streamCaughtUp(ix: TestIndexer, nc: NatsConnection, block?: bigint, timeoutMs = 180_000, where = { stream: streamName(ix), filter: chainFilter(ix) }): Promise<Seen[]> {
  const target = Number(block ?? (await t.chain.publicClient.getBlockNumber()));
  await eventually(
    `${ix.name}: stream published up to block ${target}`,
    async () => {
      const { stream, paused } = await ix.status();
      if (stream && stream.checkpoint >= target && stream.lag === 0) return true;
      // Where the stage stands goes into the timeout's message.
      throw new Error(`stage at ${JSON.stringify({ checkpoint: stream?.checkpoint, lag: stream?.lag, paused: stream?.paused ?? paused, lastError: stream?.lastError })}`);
    },
    timeoutMs,
    250,
  );
  return readStream(nc, where.stream, where.filter);
}

/** Exactly the chain's events, once each, in order, with bodies equal to the stored rows: no retraction anywhere. */
async function assertStreamIsChain(ix: TestIndexer, address: Address, seen: Seen[], head: bigint): Promise<void> {
  const { live, retractions } = replay(seen);
  assert.equal(retractions.length, 0, 'no retraction');
  const expected = await chainBodies(ix, address, head);
  assert.equal(live.length, expected.length, `${live.length} events in the stream, the chain has ${expected.length}`);
  assert.deepStrictEqual(live, expected);
  assert.deepStrictEqual(live, (await storedBodies(ix)).filter((b) => b.blockNumber <= Number(head)));
}

test('backfill of thousands of events, then realtime: the stream holds each chain event once, in order, equal to the stored rows; indexer tail shows them', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 30; salt++) {
    await emit(address, 100, salt, salt % 4);
    await t.chain.mine(salt % 5);
  }
  const nc = await connected(SHARED_NATS);
  const ix = await t.indexer({ title: 'stream backfill', config: streamConfig(address, { delivery: 'instant' }), natsUrl: SHARED_NATS });
  const backfilled = await streamCaughtUp(ix, nc);
  assert.ok(backfilled.length >= 3_000, `${backfilled.length} events published in backfill`);
  const span = (backfilled[backfilled.length - 1]!.time - backfilled[0]!.time) / 1000;
  console.log(`# backfill: ${backfilled.length} events published in ${span.toFixed(2)} s (stream timestamps), ${Math.round(backfilled.length / Math.max(span, 0.001))} events/s (bounded by ingest here)`);

  for (let salt = 31; salt <= 40; salt++) await emit(address, 3, salt, 1);
  const head = await t.chain.publicClient.getBlockNumber();
  const seen = await streamCaughtUp(ix, nc, head);
  await assertStreamIsChain(ix, address, seen, head);
  const s = await ix.status();
  assert.equal(s.stream!.published, seen.length);
  assert.equal(s.stream!.retracted, 0);
  assert.equal(s.stream!.lastError, null);
  assert.equal(s.stream!.stream, streamName(ix));

  // indexer tail, as a user starts it: every message as a line, then Ctrl-C ends it cleanly.
  const tail = spawn(process.execPath, [INDEXER_BIN, 'tail', ix.name, '--from-start'], { env: { ...process.env, ...ix.env }, cwd: REPO_ROOT });
  let out = '';
  tail.stdout.on('data', (c) => (out += c));
  let err = '';
  tail.stderr.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((resolve) => tail.on('exit', (code) => resolve(code)));
  await eventually('indexer tail to print every message', async () => (out.split('\n').length > seen.length ? true : undefined), 60_000);
  tail.kill('SIGINT');
  assert.equal(await exited, 0, err);
  const lines = out.trim().split('\n');
  assert.equal(lines.length, seen.length);
  const first = seen[0]!.body;
  assert.equal(lines[0], `${t.chain.chainId} Emitter.Transfer block ${first.blockNumber} log ${first.logIndex} ${JSON.stringify(first.args)}`);
  console.log(`# indexer tail: ${lines.slice(-2).join(' | ')}`);
  await ix.close();
});

/** Events below the stream cursor (recorded as published) and the stream's message count: more messages means some are published and not yet recorded. */
async function publishState(ix: TestIndexer, nc: NatsConnection, stream = streamName(ix)): Promise<{ recorded: number; unrecorded: number }> {
  const { rows } = await t.stack.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${ix.name}".emitter_transfer e, "${ix.name}"._stages s
      WHERE s.stage = 'stream' AND s.chain_id = e.chain_id AND (e.block_number, e.log_index) <= (s.block_number, s.log_index)`,
  );
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream).catch(() => null);
  const recorded = rows[0]?.n ?? 0;
  return { recorded, unrecorded: (info?.state.messages ?? 0) - recorded };
}

/** Waits for a publish in flight: messages in the stream beyond the recorded cursor, after the cursor passed `recordedBefore`. */
async function publishInFlight(ix: TestIndexer, nc: NatsConnection, what: string, recordedBefore: number, stream?: string) {
  return eventually(
    what,
    async () => {
      const state = await publishState(ix, nc, stream);
      return state.recorded > recordedBefore && state.unrecorded > 0 ? state : undefined;
    },
    180_000,
    10,
  );
}

test('the worker is SIGKILLed three times while publishing and the NATS server restarts mid-backfill: still exactly once', { timeout: 420_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 60; salt++) await emit(address, 500, salt, salt % 4);
  const nats = await ownNats();
  const nc = await connected(nats.url);
  const ix = await t.indexer({ title: 'stream sigkill', config: streamConfig(address, { delivery: 'instant' }, { maxBlockRange: 20 }), worker: 'process', natsUrl: nats.url });
  let worker = ix.worker as WorkerProcess;
  const respawn = () => {
    worker = spawnWorkerProcess(ix.env);
    const w = worker;
    t.defer(async () => {
      w.child.kill('SIGKILL');
      await w.exited;
    });
  };
  // Each kill waits for the worker before it to have recorded progress (the one killed last did reconcile), then for a publish in flight.
  let recorded = -1;
  for (let kill = 1; kill <= 3; kill++) {
    const caught = await publishInFlight(ix, nc, `messages published and not yet recorded (kill ${kill})`, recorded);
    worker.child.kill('SIGKILL');
    await worker.exited;
    recorded = (await publishState(ix, nc)).recorded;
    console.log(`# kill ${kill}: ${caught.unrecorded} messages in the stream beyond the recorded cursor (${caught.recorded} recorded)`);
    respawn();
  }
  // The server goes away while a batch is in flight, and comes back on the same port and store.
  await publishInFlight(ix, nc, 'publishing in flight before the NATS restart', recorded);
  await nc.close();
  await nats.stop('SIGTERM');
  await eventually('the outage in status.stream.lastError', async () => ((await ix.status()).stream?.lastError ? true : undefined), 60_000);
  const restarted = await startNatsServer({ port: nats.port, storeDir: nats.storeDir });
  t.defer(() => restarted.stop('SIGKILL'));
  const nc2 = await connected(restarted.url);
  const head = await t.chain.publicClient.getBlockNumber();
  const seen = await streamCaughtUp(ix, nc2, head, 240_000);
  await assertStreamIsChain(ix, address, seen, head);
  assert.ok(seen.length >= 30_000);
  assert.equal((await ix.status()).stream!.lastError, null);
  await ix.close();
});

test('a publish no JetStream stream answers (a server stopping shuts JetStream down before the connections) is transient: retried, never a config error that pauses the stage', { timeout: 60_000 }, async () => {
  // The same answer as from a server on its way down (no responders: a 503 status, no body), made
  // at will: no stream captures this subject yet.
  const nc = await connected(SHARED_NATS);
  const subject = `indexer.t_no_responders_${Date.now()}`;
  const body = { chainId: 1, contract: 'Emitter', event: 'Transfer', blockNumber: 7, blockHash: '0x01', blockTimestamp: null, logIndex: 0, txHash: '0x02', address: '0x03', args: {}, removed: false };
  const messages: StreamMessage[] = [{ subject: `${subject}.1.Emitter.Transfer`, msgId: messageId(body), blockNumber: 7, logIndex: 0, body, publication: 1 }];
  const options = { window: 10, stallMs: 5_000, label: 'test' };
  const error = await publishInOrder(nc, messages, options).then(
    () => assert.fail('published with no stream to answer'),
    (e: unknown) => e as Error,
  );
  assert.ok(error instanceof StreamUnavailableError, `${error.constructor.name}: ${error.message}`);
  assert.ok(!NON_RETRYABLE_ERROR_TYPES.includes(StreamUnavailableError.type), 'retried by Temporal');
  assert.match(error.message, /did not answer the event at block 7 log 0 .*no responders/);
  // Once a stream answers again (here: one made for the subject), the same publish goes through.
  const jsm = await jetstreamManager(nc);
  const name = subject.replaceAll('.', '_').toUpperCase();
  await jsm.streams.add({ name, subjects: [`${subject}.>`] });
  t.defer(() => jsm.streams.delete(name).then(() => undefined));
  assert.equal((await publishInOrder(nc, messages, options)).lastSeq, 1);
});

/** anvil_reorg: replace the last `depth` blocks by new ones holding `txs` ([tx, block offset]). */
async function reorg(address: Address, depth: number, txs: Array<[number, number, number]>): Promise<void> {
  const params = txs.map(([count, salt, offset]) => [
    { from: t.chain.accounts[3]!, to: address, data: encodeFunctionData({ abi: emitter.abi, functionName: 'emitMany', args: [BigInt(count), BigInt(salt)] }) },
    offset,
  ]);
  await t.chain.publicClient.request({ method: 'anvil_reorg' as never, params: [depth, params] as never });
}

test('instant delivery, reorgs of depth 1, 3 and 10: every orphaned event retracted once, newest first, before the new fork; replay gives the canonical chain', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 10; salt++) await emit(address, 4, salt, salt % 3);
  const nc = await connected(SHARED_NATS);
  const ix = await t.indexer({ title: 'stream instant reorgs', config: streamConfig(address, { delivery: 'instant' }, { maxReorgDepth: 32, maxBlockRange: 50 }), natsUrl: SHARED_NATS });
  await streamCaughtUp(ix, nc);
  let reorgs = 0;
  let retractionsExpected = 0;
  for (const depth of [1, 3, 10]) {
    // Every block about to leave the chain holds events, and all of them are published.
    for (let i = 0; i < depth; i++) await emit(address, 1 + (i % 3), 100 * depth + i, 2);
    await streamCaughtUp(ix, nc);
    const head = await t.chain.publicClient.getBlockNumber();
    const orphaned = (await chainBodies(ix, address, head)).filter((b) => b.blockNumber > Number(head) - depth);
    await reorg(address, depth, [[2, 1000 + depth, 0], [3, 2000 + depth, depth - 1]]);
    reorgs += 1;
    await eventually(`reorg ${reorgs} (depth ${depth})`, async () => ((await ix.status()).reorgs >= reorgs ? true : undefined), 60_000);
    const newHead = await t.chain.publicClient.getBlockNumber();
    const seen = await streamCaughtUp(ix, nc, newHead);
    const { live, retractions } = replay(seen);
    assert.deepStrictEqual(live, await chainBodies(ix, address, newHead), `after the depth-${depth} reorg the replayed stream is the canonical chain`);
    retractionsExpected += orphaned.length;
    assert.equal(retractions.length, retractionsExpected, `retractions after the depth-${depth} reorg`);
    const last = retractions.slice(-orphaned.length);
    assert.deepStrictEqual(last, [...orphaned].reverse().map((b) => ({ ...b, removed: true })), `the depth-${depth} reorg's retractions, newest first`);
    const firstRetraction = seen.findIndex((m) => m.body.removed && m.msgId === `${orphaned.at(-1)!.chainId}:${orphaned.at(-1)!.blockHash}:${orphaned.at(-1)!.logIndex}:removed`);
    console.log(`# depth ${depth}: ${orphaned.length} retractions, e.g. seq ${seen[firstRetraction]!.seq} ${seen[firstRetraction]!.subject} ${JSON.stringify(seen[firstRetraction]!.body)}`);
  }
  const s = await ix.status();
  assert.equal(s.stream!.retracted, retractionsExpected);
  assert.equal(s.stream!.lastError, null);
  await ix.close();
});

test('safe delivery with reorgs shallower than confirmations: no retraction at all, and the stream is the canonical chain', { timeout: 240_000 }, async () => {
  const confirmations = 5;
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 8; salt++) await emit(address, 3, salt, salt % 3);
  await t.chain.mine(confirmations + 1);
  const nc = await connected(SHARED_NATS);
  const ix = await t.indexer({ title: 'stream safe reorgs', config: streamConfig(address, { delivery: 'safe' }, { confirmations, maxReorgDepth: 32, maxBlockRange: 50 }), natsUrl: SHARED_NATS });
  await streamCaughtUp(ix, nc, (await t.chain.publicClient.getBlockNumber()) - BigInt(confirmations));
  let reorgs = 0;
  for (const depth of [1, 3]) {
    for (let i = 0; i < depth; i++) await emit(address, 2, 300 + 10 * depth + i, 1);
    await ix.waitForCheckpoint(await t.chain.publicClient.getBlockNumber());
    await reorg(address, depth, [[2, 3000 + depth, 0]]);
    reorgs += 1;
    await eventually(`reorg ${reorgs} (depth ${depth})`, async () => ((await ix.status()).reorgs >= reorgs ? true : undefined), 60_000);
  }
  await t.chain.mine(confirmations + 1);
  const head = await t.chain.publicClient.getBlockNumber();
  const seen = await streamCaughtUp(ix, nc, head - BigInt(confirmations));
  await assertStreamIsChain(ix, address, seen, head);
  const s = await ix.status();
  assert.equal(s.stream!.retracted, 0);
  assert.equal(s.reorgs, 2);
  await ix.close();
});

test('a worker down for longer than the duplicate window while messages were unrecorded: no duplicate', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 24; salt++) await emit(address, 500, salt, salt % 4);
  const nc = await connected(SHARED_NATS);
  // The stream exists before the indexer starts (so it is used as it is), with a 2-second duplicate window.
  const id = Math.random().toString(36).slice(2, 8);
  const where = { stream: `DUPWIN_${id}`, filter: `dupwin.${id}.${t.chain.chainId}.>` };
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: where.stream, subjects: [`dupwin.${id}.>`], duplicate_window: 2_000_000_000 });
  t.defer(() => jsm.streams.delete(where.stream));
  const ix = await t.indexer({
    title: 'stream dup window',
    config: streamConfig(address, { delivery: 'instant', nats: { stream: where.stream, subject: `dupwin.${id}` } }, { maxBlockRange: 20 }),
    worker: 'process',
    natsUrl: SHARED_NATS,
  });
  const worker = ix.worker as WorkerProcess;
  const { unrecorded } = await publishInFlight(ix, nc, 'messages published and not yet recorded', -1, where.stream);
  worker.child.kill('SIGKILL');
  await worker.exited;
  const killedAt = Date.now();
  // Longer than the window, whatever the activity's retry timing: the re-published ids are no longer known to JetStream.
  await new Promise((r) => setTimeout(r, 5_000));
  assert.ok(Date.now() - killedAt > 2_000 * 2);
  const next = spawnWorkerProcess(ix.env);
  t.defer(async () => {
    next.child.kill('SIGKILL');
    await next.exited;
  });
  const head = await t.chain.publicClient.getBlockNumber();
  const seen = await streamCaughtUp(ix, nc, head, 180_000, where);
  await assertStreamIsChain(ix, address, seen, head);
  assert.match(next.output(), /reconciled messages the stream held beyond the recorded cursor/);
  console.log(`# duplicate window: ${unrecorded}+ messages were unrecorded at the kill; ${seen.length} messages, no duplicate`);
  await ix.close();
});

test('bad input: a malformed NATS URL is a one-line error; NATS unreachable is a transient lastError (credentials redacted), then the backlog is published exactly once', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 40; salt++) await emit(address, 500, salt, salt % 4);
  const probe = await t.indexer({ title: 'stream bad url', config: streamConfig(address, { delivery: 'instant' }), worker: 'none', start: false });
  for (const bad of ['nats://127.0.0.1:99999', 'http://127.0.0.1:4222', 'nats://127.0.0.1:4222/some/path']) {
    assertOneLineError(await runCli(['worker'], { ...probe.env, NATS_URL: bad }), /^error: NATS_URL(: ".*" (is not a valid URL|has a path or query)| must be a nats:\/\/ URL)/, `worker with NATS_URL=${bad}`);
  }
  const badConfig = path.join(path.dirname(probe.configPath), 'bad-nats.config.json');
  (await import('node:fs')).writeFileSync(badConfig, JSON.stringify({ ...streamConfig(address, { nats: { url: 'nats://user:pw@:4222' } })(probe.name) }));
  const start = await runCli(['start', '--config', badConfig], probe.env);
  const line = assertOneLineError(start, /^error: config\.stream\.nats\.url: ".*" is not a valid URL/, 'start with a malformed stream.nats.url');
  assert.doesNotMatch(line, /user:pw/);

  const port = await freePort();
  const secret = 's3cret-Pw-42';
  const url = `nats://indexer:${secret}@127.0.0.1:${port}`;
  const ix = await t.indexer({ title: 'stream unreachable', config: streamConfig(address, { delivery: 'instant' }), worker: 'process', natsUrl: url });
  const down = await eventually('the outage in status.stream.lastError', async () => {
    const s = await ix.status();
    return s.stream?.lastError ? s : undefined;
  }, 90_000);
  assert.match(down.stream!.lastError!, new RegExp(`NATS at nats://127\\.0\\.0\\.1:${port}/… is unreachable`));
  assert.equal(down.paused, false);
  const head = await t.chain.publicClient.getBlockNumber();
  await ix.waitForCheckpoint(head); // ingest goes on
  assert.equal((await ix.status()).stream!.published, 0);

  const nats = await ownNats({ port, user: 'indexer', pass: secret });
  const nc = await connected(url);
  const seen = await streamCaughtUp(ix, nc, head, 240_000);
  await assertStreamIsChain(ix, address, seen, head);
  const span = (seen[seen.length - 1]!.time - seen[0]!.time) / 1000;
  console.log(`# backlog publish: ${seen.length} events in ${span.toFixed(2)} s (stream timestamps) = ${Math.round(seen.length / span)} events/s`);
  assert.equal((await ix.status()).stream!.lastError, null);
  const history = JSON.stringify(await ix.handle.fetchHistory());
  assert.ok(!history.includes(secret), 'the NATS password is not in the workflow history');
  assert.ok(!(ix.worker as WorkerProcess).output().includes(secret), 'nor in the worker log');
  assert.ok(!JSON.stringify(await ix.status()).includes(secret), 'nor in the status');
  void nats;
  await ix.close();
});

/** `emitTransfers` with 18-decimal amounts (and a value near 2^256 where asked): realistic values through the stream. */
async function emitRealistic(address: Address, salt: number, count: number, account = 0, nearMax = 0): Promise<void> {
  const { to, values } = transferBatch(salt, count, { nearMax });
  const hash = await t.chain.wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitTransfers', args: [to, values], account: t.chain.accounts[account]! } as never);
  await t.chain.publicClient.waitForTransactionReceipt({ hash });
}

/** Message ids the stream holds for one event occurrence, in stream order. */
function idsOf(seen: readonly Seen[], body: Pick<StreamBody, 'blockHash' | 'logIndex'>): string[] {
  return seen.filter((m) => m.body.blockHash === body.blockHash && m.body.logIndex === body.logIndex).map((m) => m.msgId);
}

test('indexer reset within the undo window and far below it, with handlers and a stream: the same blocks come back after their retraction and are published again under their next ids; the stream replays to the canonical chain and the derived tables equal the oracle', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 70; salt++) await emitRealistic(address, salt, 1 + (salt % 3), salt % 4, salt % 20 === 0 ? 1 : 0);
  const nc = await connected(SHARED_NATS);
  const handlers = writeModule(handlersDir, 'balances-stream-reset.mjs', STORE_BALANCES_HANDLERS);
  // maxReorgDepth 8: the undo log reaches 16 blocks below the head; a reset 60 blocks back goes past it (derived tables are rebuilt).
  const config = streamConfig(address, { delivery: 'instant' }, { maxReorgDepth: 8, maxBlockRange: 50 });
  const ix = await t.indexer({ title: 'stream reset', config: (name) => ({ ...config(name), handlers }), natsUrl: SHARED_NATS });
  const head = await t.chain.publicClient.getBlockNumber();
  await streamCaughtUp(ix, nc, head);
  const canonical = await chainBodies(ix, address, head);
  let retracted = 0;
  for (const depth of [5, 60]) {
    const resetTo = Number(head) - depth;
    const reset = await runCli(['reset', ix.name, '--to-block', String(resetTo)], ix.env);
    assert.equal(reset.code, 0, reset.stderr);
    retracted += canonical.filter((b) => b.blockNumber > resetTo).length;
    await eventually(`the reset to ${resetTo} retracted`, async () => ((await ix.status()).stream!.retracted >= retracted ? true : undefined), 60_000);
    const seen = await streamCaughtUp(ix, nc, head);
    const { live, retractions, republished } = replay(seen);
    assert.deepStrictEqual(live, canonical, `after the reset to ${resetTo} the replayed stream is the canonical chain`);
    assert.equal(retractions.length, retracted, 'each published event above the reset block retracted once');
    assert.equal(republished, retracted, 'and published again once');
    await eventually(
      `${ix.name}: derived tables equal the chain after the reset to ${resetTo}`,
      async () => {
        const s = await ix.status();
        if (!s.handlers || s.handlers.checkpoint < Number(head)) return undefined;
        assert.deepStrictEqual(comparable(await storedBalances(t.stack.db, ix.name)), comparable(expectedBalances(await chainTransfers(t.chain.publicClient, address, head))));
        return true;
      },
      120_000,
    );
  }
  const seen = await readStream(nc, streamName(ix), chainFilter(ix));
  const newest = canonical[canonical.length - 1]!;
  // Published, retracted by the shallow reset, published again, retracted by the deep one, published a third time.
  const base = `${newest.chainId}:${newest.blockHash}:${newest.logIndex}`;
  assert.deepStrictEqual(idsOf(seen, newest), [base, `${base}:removed`, `${base}:2`, `${base}:removed:2`, `${base}:3`]);
  console.log(`# ids of the newest event after two resets: ${idsOf(seen, newest).join(' ')}`);
  const s = await ix.status();
  assert.equal(s.stream!.lastError, null);
  await ix.close();
});

test('the worker is SIGKILLed between a re-publication (after a reset) and its cursor save: each publication in the stream once', { timeout: 300_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 12; salt++) await emitRealistic(address, 100 + salt, 2, salt % 3);
  const nc = await connected(SHARED_NATS);
  const ix = await t.indexer({ title: 'stream republish kill', config: streamConfig(address, { delivery: 'instant' }), worker: 'process', natsUrl: SHARED_NATS });
  const head = await t.chain.publicClient.getBlockNumber();
  await streamCaughtUp(ix, nc, head);
  // Held between publish and save: a trigger that sleeps while the stream's cursor moves forward.
  const schema = `"${ix.name}"`;
  await t.stack.db.query(`CREATE FUNCTION ${schema}.hold_stream_save() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.stage = 'stream' AND NEW.block_number > OLD.block_number THEN PERFORM pg_sleep(120); END IF; RETURN NEW; END $$`);
  await t.stack.db.query(`CREATE TRIGGER hold_stream_save BEFORE UPDATE ON ${schema}._stages FOR EACH ROW EXECUTE FUNCTION ${schema}.hold_stream_save()`);
  const reset = await runCli(['reset', ix.name, '--to-block', String(Number(head) - 4)], ix.env);
  assert.equal(reset.code, 0, reset.stderr);
  const held = await eventually(
    'the stream stage holding its cursor save after re-publishing',
    async () => (await t.stack.db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%_stages%'`)).rows[0],
    60_000,
    50,
  );
  const before = await readStream(nc, streamName(ix), chainFilter(ix));
  assert.ok(before.some((m) => /:2$/.test(m.msgId)), 're-publications reached the stream before the kill');
  const worker = ix.worker as WorkerProcess;
  worker.child.kill('SIGKILL');
  await worker.exited;
  // The killed worker's transaction goes with it.
  await t.stack.db.query('SELECT pg_terminate_backend($1)', [held.pid]);
  await t.stack.db.query(`DROP TRIGGER hold_stream_save ON ${schema}._stages`);
  const next = spawnWorkerProcess(ix.env);
  t.defer(async () => {
    next.child.kill('SIGKILL');
    await next.exited;
  });
  const seen = await streamCaughtUp(ix, nc, head);
  const { live, republished } = replay(seen);
  assert.deepStrictEqual(live, await chainBodies(ix, address, head));
  assert.equal(republished, (await chainBodies(ix, address, head)).filter((b) => b.blockNumber > Number(head) - 4).length, 'each re-publication once');
  console.log(`# killed with ${before.filter((m) => /:2$/.test(m.msgId)).length} re-publications in the stream and not recorded; ${seen.length} messages at the end, each id once`);
  await ix.close();
});

test('a duplicate acknowledgement for a message the stage never published is not taken for a publication: lastError names it, and the event goes out once the duplicate window has passed', { timeout: 180_000 }, async () => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 3; salt++) await emitRealistic(address, 200 + salt, 1);
  const head = await t.chain.publicClient.getBlockNumber();
  const nc = await connected(SHARED_NATS);
  const id = Math.random().toString(36).slice(2, 8);
  const where = { stream: `DUPACK_${id}`, filter: `dupack.${id}.${t.chain.chainId}.>` };
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: where.stream, subjects: [`dupack.${id}.>`], duplicate_window: 15_000_000_000 });
  t.defer(() => jsm.streams.delete(where.stream));
  // Another writer's message under the id of the chain's first event, outside the chain's subjects.
  const [first] = await t.chain.publicClient.getLogs({ address, event: transferAbi[0], fromBlock: 0n, toBlock: head });
  const collidingId = `${t.chain.chainId}:${first!.blockHash!.toLowerCase()}:${first!.logIndex}`;
  const h = natsHeaders();
  h.set('Nats-Msg-Id', collidingId);
  await jetstream(nc).publish(`dupack.${id}.elsewhere`, 'not an event', { headers: h });
  const ix = await t.indexer({ title: 'stream dup ack', config: streamConfig(address, { delivery: 'instant', nats: { stream: where.stream, subject: `dupack.${id}` } }), natsUrl: SHARED_NATS });
  const error = await eventually('the refused duplicate in lastError', async () => (await ix.status()).stream?.lastError ?? undefined, 30_000, 100);
  assert.match(error, new RegExp(`JetStream took ${collidingId} \\(block ${first!.blockNumber} log ${first!.logIndex}\\) for a duplicate of sequence 1, which is not this publication of it: the event is not in the stream`));
  const seen = await streamCaughtUp(ix, nc, head, 120_000, where);
  await assertStreamIsChain(ix, address, seen, head);
  assert.equal((await ix.status()).stream!.lastError, null);
  console.log(`# lastError while JetStream's window held the id: ${error}`);
  await ix.close();
});
