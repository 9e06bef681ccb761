import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import { encodeFunctionData, type Address } from 'viem';
import WebSocket from 'ws';
import { startApiServer, type ApiServer } from '../../src/api/server';
import { createLogger } from '../../src/logger';
import { STORE_BALANCES_HANDLERS, chainTransfers, comparable, expectedBalances, storedBalances, transferBatch, writeModule, type Transfer } from '../helpers/balances';
import { e2e, type TestIndexer } from '../helpers/fixture';
import { freePort } from '../helpers/ports';
import { compileFixture } from '../helpers/solidity';
import { eventually } from '../helpers/workers';

/**
 * The read API on a live indexer with handlers (real Temporal, PostgreSQL, anvil): the
 * `checkpoints` subscription over WebSocket (graphql-ws) and server-sent events delivers each
 * handlers commit within a second and a `reorg: true` message after a rollback; and a client polling
 * `_meta` and a derived table through a reorg of depth 5 never sees a response mixing rows from
 * before and after the rollback: each response's balances equal the oracle (the chain's transfers,
 * decoded here) up to the handlers checkpoint that same response reports.
 */

const emitter = compileFixture('Emitter');
// anvil keeps every block's state (no --prune-history): anvil_reorg needs it.
const t = e2e();
const dir = mkdtempSync(path.join(os.tmpdir(), 'indexer-api-live-'));

interface CheckpointMessage {
  at: number;
  event: { chainId: number; checkpoint: number; handlersCheckpoint: number | null; reorg: boolean };
}

const SUBSCRIPTION = `subscription($chainId: Int) { checkpoints(chainId: $chainId) { chainId checkpoint handlersCheckpoint reorg } }`;

/** A graphql-ws client subscribed to `checkpoints`, recording each message and when it came. */
function wsSubscribe(url: string, chainId: number): { messages: CheckpointMessage[]; client: Client; errors: unknown[] } {
  const messages: CheckpointMessage[] = [];
  const errors: unknown[] = [];
  const client = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: false, retryAttempts: 5 });
  client.subscribe(
    { query: SUBSCRIPTION, variables: { chainId } },
    {
      next: (value) => {
        if (value.errors) errors.push(value.errors);
        else messages.push({ at: Date.now(), event: (value.data as { checkpoints: CheckpointMessage['event'] }).checkpoints });
      },
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
  );
  return { messages, client, errors };
}

/** The same subscription over server-sent events (a POST with Accept: text/event-stream). */
async function sseSubscribe(url: string, chainId: number): Promise<{ messages: CheckpointMessage[]; close: () => void; errors: unknown[] }> {
  const messages: CheckpointMessage[] = [];
  const errors: unknown[] = [];
  const abort = new AbortController();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ query: SUBSCRIPTION, variables: { chainId } }), signal: abort.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (event !== 'next') continue;
          const value = JSON.parse(data) as { data?: { checkpoints: CheckpointMessage['event'] }; errors?: unknown };
          if (value.errors) errors.push(value.errors);
          else messages.push({ at: Date.now(), event: value.data!.checkpoints });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { messages, close: () => abort.abort(), errors };
}

/** What the indexer itself NOTIFYs, heard directly: the moment each handlers batch or rollback committed. */
async function listenDirectly(databaseUrl: string, schema: string): Promise<{ messages: CheckpointMessage[]; close: () => Promise<void> }> {
  const messages: CheckpointMessage[] = [];
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  client.on('notification', (n) => messages.push({ at: Date.now(), event: JSON.parse(n.payload!) }));
  await client.query(`LISTEN "indexer_${schema}"`);
  return { messages, close: () => client.end() };
}

function subscriptionsOpen(api: ApiServer, transport: string): Promise<number> {
  return api.metrics.subscriptions.get().then((m) => m.values.filter((v) => v.labels.transport === transport).reduce((a, v) => a + v.value, 0));
}

/** Every notification the indexer sent has its message on the subscription, the same, within 1 s. */
function assertDelivered(what: string, direct: CheckpointMessage[], received: CheckpointMessage[]): number {
  assert.ok(direct.length > 0, `${what}: the indexer notified`);
  const pending = [...received];
  let slowest = 0;
  for (const n of direct) {
    const i = pending.findIndex((m) => JSON.stringify(m.event) === JSON.stringify(n.event));
    assert.ok(i >= 0, `${what}: a message for ${JSON.stringify(n.event)}; got ${JSON.stringify(received.map((m) => m.event))}`);
    const m = pending.splice(i, 1)[0]!;
    assert.ok(m.at - n.at < 1_000, `${what}: ${JSON.stringify(n.event)} delivered ${m.at - n.at} ms after its commit`);
    slowest = Math.max(slowest, m.at - n.at);
  }
  return slowest;
}

async function transfersFrom(address: Address, account: number, salt: number, count: number, nearMax = 0): Promise<void> {
  const b = transferBatch(salt, count, { nearMax, also: t.chain.accounts.slice(0, 4) });
  const hash = await t.chain.wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitTransfers', args: [b.to, b.values], account: t.chain.accounts[account]! } as never);
  const receipt = await t.chain.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, 'success');
}

async function caughtUp(ix: TestIndexer, address: Address): Promise<void> {
  await eventually(
    `${ix.name}: derived tables equal the chain`,
    async () => {
      const head = await t.chain.publicClient.getBlockNumber();
      const s = await ix.status();
      if (s.checkpoint < Number(head) || !s.handlers || s.handlers.checkpoint < Number(head)) return undefined;
      assert.deepStrictEqual(comparable(await storedBalances(t.stack.db, ix.name)), comparable(expectedBalances(await chainTransfers(t.chain.publicClient, address, head))));
      return true;
    },
    120_000,
    250,
  );
}

test('live: subscriptions over WebSocket and SSE within 1 s of each handlers commit and reorg: true after a rollback; polling through a depth-5 reorg never mixes pre- and post-rollback rows', { timeout: 420_000 }, async (ctx) => {
  const address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  // 18-decimal amounts, and a few near 2^256 (one per sender).
  for (let salt = 1; salt <= 12; salt++) await transfersFrom(address, salt % 3, salt, 2 + (salt % 4), salt === 4 || salt === 8 ? 1 : 0);
  const handlers = writeModule(dir, 'balances.mjs', STORE_BALANCES_HANDLERS);
  const ix = await t.indexer({
    title: 'api live',
    config: (name) => ({
      name,
      chains: { local: { id: t.chain.chainId, maxBlockRange: 20, maxInFlight: 2, pollIntervalMs: 100, maxReorgDepth: 32 } },
      contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
      handlers,
    }),
  });
  await caughtUp(ix, address);

  const api = await startApiServer({
    databaseUrl: t.stack.databaseUrl,
    port: await freePort(),
    host: '127.0.0.1',
    statementTimeoutMs: 5_000,
    indexers: [ix.name],
    logger: createLogger({ level: 'warn', pretty: false, destination: process.stderr }),
  });
  t.defer(() => api.close());
  await api.settled();
  const url = api.graphqlUrl(ix.name);
  const direct = await listenDirectly(t.stack.databaseUrl, ix.name);
  t.defer(() => direct.close());
  const ws = wsSubscribe(url, t.chain.chainId);
  t.defer(() => ws.client.dispose());
  const sse = await sseSubscribe(url, t.chain.chainId);
  t.defer(() => sse.close());
  await eventually('both subscriptions open on the server', async () => ((await subscriptionsOpen(api, 'ws')) === 1 && (await subscriptionsOpen(api, 'sse')) === 1 ? true : undefined), 20_000, 50);

  // Handlers commits, one after another: each one's notification reaches both subscribers within 1 s.
  for (let salt = 20; salt < 26; salt++) {
    await transfersFrom(address, salt % 3, salt, 3);
    await new Promise((r) => setTimeout(r, 300));
  }
  await caughtUp(ix, address);
  await new Promise((r) => setTimeout(r, 1_000));
  const commits = direct.messages.filter((m) => !m.event.reorg);
  assert.ok(commits.length >= 3, `several handlers commits notified (${commits.length})`);
  const slowest = Math.max(assertDelivered('WebSocket', commits, ws.messages), assertDelivered('SSE', commits, sse.messages));
  ctx.diagnostic(`${commits.length} handlers commits, each delivered over WebSocket and SSE; the slowest ${slowest} ms after the indexer's NOTIFY`);
  assert.deepStrictEqual([ws.errors, sse.errors], [[], []]);

  // A client polls _meta and the balances through a reorg of depth 5.
  const oldFork = await chainTransfers(t.chain.publicClient, address);
  const oldHead = await t.chain.publicClient.getBlockNumber();
  type Poll = { reorgs: number; handlersCheckpoint: number; balances: Map<string, string> };
  const polls: Poll[] = [];
  let polling = true;
  const poller = async () => {
    while (polling) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `{ _meta { chainId handlersCheckpoint reorgs } balances(first: 1000) { totalCount nodes { account balance } } }` }),
      });
      const body = (await res.json()) as { data?: { _meta: Array<{ handlersCheckpoint: number; reorgs: number }>; balances: { totalCount: number; nodes: Array<{ account: string; balance: string }> } }; errors?: unknown };
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      assert.ok(body.data!.balances.totalCount < 1000, 'one page holds every balance');
      const meta = body.data!._meta[0]!;
      polls.push({ reorgs: meta.reorgs, handlersCheckpoint: meta.handlersCheckpoint, balances: new Map(body.data!.balances.nodes.map((n) => [n.account, n.balance])) });
    }
  };
  const pollers = [poller(), poller()];
  const directBefore = direct.messages.length;
  const reorgAt = Date.now();
  const replacing = [0, 2].map((offset, i) => {
    const b = transferBatch(300 + i, 4, { also: t.chain.accounts.slice(0, 4) });
    return [{ from: t.chain.accounts[1 + i]!, to: address, data: encodeFunctionData({ abi: emitter.abi, functionName: 'emitTransfers', args: [b.to, b.values] }) }, offset] as const;
  });
  await t.chain.publicClient.request({ method: 'anvil_reorg' as never, params: [5, replacing] as never });
  await eventually('the reorg rolled back', async () => ((await ix.status()).reorgs >= 1 ? true : undefined), 60_000);
  await caughtUp(ix, address);
  await new Promise((r) => setTimeout(r, 500));
  polling = false;
  await Promise.all(pollers);
  const newFork = await chainTransfers(t.chain.publicClient, address);

  // Every response is one snapshot: its balances are the oracle's at the handlers checkpoint it reports, on its fork.
  const oracle = (fork: Transfer[], upTo: number) => expectedBalances(fork.filter((x) => x.blockNumber <= BigInt(upTo))).balances;
  let before = 0;
  let after = 0;
  for (const [i, p] of polls.entries()) {
    const fork = p.reorgs === 0 ? oldFork : newFork;
    if (p.reorgs === 0) before++;
    else after++;
    if (p.reorgs === 0) assert.ok(p.handlersCheckpoint <= Number(oldHead), 'a pre-rollback response is of the old fork');
    assert.deepStrictEqual(
      [...p.balances].sort(([a], [b]) => a.localeCompare(b)),
      [...oracle(fork, p.handlersCheckpoint)].sort(([a], [b]) => a.localeCompare(b)),
      `response ${i} (reorgs ${p.reorgs}, handlersCheckpoint ${p.handlersCheckpoint}) mixes rows of two states`,
    );
  }
  assert.ok(before > 0 && after > 0, `responses on both sides of the rollback (${before} before, ${after} after)`);
  ctx.diagnostic(`${polls.length} polls through the reorg: ${before} before the rollback, ${after} after, each equal to the oracle at its own handlersCheckpoint`);
  assert.notDeepStrictEqual(oracle(oldFork, Number(oldHead)), oracle(newFork, Number(oldHead)), 'the reorg changed the balances');

  // The rollback's notification, reorg: true, reached both subscribers within 1 s.
  const rollbacks = direct.messages.slice(directBefore).filter((m) => m.event.reorg);
  assert.equal(rollbacks.length, 1, `one rollback notified (${JSON.stringify(direct.messages.slice(directBefore).map((m) => m.event))})`);
  assert.ok(rollbacks[0]!.at >= reorgAt);
  assertDelivered('WebSocket (reorg)', rollbacks, ws.messages);
  assertDelivered('SSE (reorg)', rollbacks, sse.messages);
  assert.ok(ws.messages.some((m) => m.event.reorg) && sse.messages.some((m) => m.event.reorg));

  // The LISTEN connection lost: the server connects again, and the subscriptions resume.
  await t.stack.db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'temporal-evm-indexer-api-listen'`);
  await eventually('LISTEN again', async () => ((await api.metrics.listenReconnects.get()).values[0]?.value ?? 0) >= 1 || undefined, 20_000, 50);
  const resumedFrom = direct.messages.length;
  const wsFrom = ws.messages.length;
  const sseFrom = sse.messages.length;
  await transfersFrom(address, 2, 400, 3);
  await caughtUp(ix, address);
  await new Promise((r) => setTimeout(r, 1_000));
  const resumed = direct.messages.slice(resumedFrom);
  assertDelivered('WebSocket after the LISTEN connection came back', resumed, ws.messages.slice(wsFrom));
  assertDelivered('SSE after the LISTEN connection came back', resumed, sse.messages.slice(sseFrom));
  assert.deepStrictEqual([ws.errors, sse.errors], [[], []]);
  await ix.close();
});
