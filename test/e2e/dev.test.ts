import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { createPublicClient, http, type Abi, type PublicClient } from 'viem';
import { demoTokenArtifact } from '../../src/dev/demo';
import { chainTransfers } from '../helpers/balances';
import { assertMatchesChain } from '../helpers/oracle';
import { freePort } from '../helpers/ports';
import { INDEXER_BIN, eventually } from '../helpers/workers';

const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const ZERO = '0x0000000000000000000000000000000000000000';
/** anvil's first dev account: it deploys the demo token, holds its supply and funds the others. */
const DEPLOYER = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';

/**
 * demo.balances equals a computation from the chain's Transfer logs up to the handlers'
 * checkpoint, every account (the deployer's included; mints come from the zero address, whose row
 * the demo handler does not keep). One snapshot of cursor and balances: the handlers go on meanwhile.
 */
async function assertBalancesEqualChain(db: pg.Pool, client: PublicClient, when: string): Promise<{ handled: bigint; balances: Map<string, string> }> {
  const snapshot = await db.connect();
  const [stage, balances] = await (async () => {
    try {
      await snapshot.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const stage = await snapshot.query<{ block_number: string; log_index: number }>("SELECT block_number, log_index FROM demo._stages WHERE chain_id = 31337 AND stage = 'handlers'");
      const balances = await snapshot.query<{ account: string; balance: string }>('SELECT account, balance::text AS balance FROM demo.balances');
      await snapshot.query('COMMIT');
      return [stage.rows[0]!, balances.rows] as const;
    } finally {
      snapshot.release();
    }
  })();
  const handled = BigInt(stage.block_number) - (stage.log_index === 2_147_483_647 ? 0n : 1n);
  const expected = new Map<string, bigint>();
  for (const t of await chainTransfers(client, TOKEN, handled)) {
    if (t.from !== ZERO) expected.set(t.from, (expected.get(t.from) ?? 0n) - t.value);
    expected.set(t.to, (expected.get(t.to) ?? 0n) + t.value);
  }
  const stored = new Map(balances.map((r) => [r.account, r.balance]));
  assert.deepStrictEqual(stored, new Map([...expected].map(([account, balance]) => [account, balance.toString()])), `demo.balances equals the chain up to block ${handled} ${when}`);
  return { handled, balances: stored };
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * `indexer tail demo --from-start` in the dev's directory as a user would type it in a second
 * terminal (no NATS_URL): its lines until one names a demo Transfer, or 30 s.
 */
function tailFirstTransfer(cwd: string, temporalPort: number): Promise<string[]> {
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}` };
  delete env.NATS_URL;
  const child = spawn(process.execPath, [INDEXER_BIN, 'tail', 'demo', '--from-start'], { cwd, env });
  const lines: string[] = [];
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      child.kill('SIGINT');
      resolve(lines);
    };
    const timer = setTimeout(done, 30_000);
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      lines.push(...parts);
      if (lines.some((l) => /^31337 Token\.Transfer block \d+ log \d+ /.test(l))) done();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', done);
  });
}

interface DevRun {
  lines: string[];
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  interrupt: () => Promise<number | null>;
  /** Still running (a failed assertion must not leave it, and its helpers, behind). */
  running: () => boolean;
}

/** `indexer dev` exactly as the README runs it, in a fresh directory, on the embedded defaults. */
function runDev(cwd: string, ports: Record<string, number>): DevRun {
  const env = { ...process.env };
  delete env.DATABASE_URL; // the embedded PostgreSQL default must stay tested
  delete env.TEMPORAL_ADDRESS;
  const child = spawn(
    process.execPath,
    [
      INDEXER_BIN,
      'dev',
      '--temporal-port',
      String(ports.temporal),
      '--ui-port',
      String(ports.ui),
      '--anvil-port',
      String(ports.anvil),
      '--postgres-port',
      String(ports.postgres),
      '--metrics-port',
      String(ports.metrics),
    ],
    // Its own process group, so interrupt() can signal the group the way a terminal's Ctrl-C does.
    { cwd, env, detached: true },
  );
  const lines: string[] = [];
  let buffer = '';
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    lines.push(...parts);
    waiters.forEach((w) => w());
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  process.once('exit', () => child.kill('SIGKILL'));
  return {
    lines,
    waitFor: (pattern, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`indexer dev never printed ${pattern}; output:\n${lines.join('\n')}`)), timeoutMs);
        const check = () => {
          for (const line of lines) {
            const m = line.match(pattern);
            if (m) {
              clearTimeout(timer);
              return resolve(m);
            }
          }
        };
        waiters.push(check);
        check();
      }),
    interrupt: async () => {
      // A terminal's Ctrl-C: SIGINT to the whole foreground process group, helpers included.
      process.kill(-child.pid!, 'SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    running: () => child.exitCode === null && child.signalCode === null,
  };
}

test('indexer dev: everything local, indexed rows equal the demo chain, Ctrl-C stops cleanly, a second run resumes', { timeout: 420_000 }, async (t) => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'indexer-dev-'));
  chmodSync(cwd, 0o755);
  const ports = { temporal: await freePort(), ui: await freePort(), anvil: await freePort(), postgres: await freePort(), metrics: await freePort() };

  const runs: DevRun[] = [];
  t.after(async () => {
    for (const run of runs) if (run.running()) await run.interrupt();
  });
  const first = runDev(cwd, ports);
  runs.push(first);
  const [, uiUrl] = await first.waitFor(/Web UI (http:\S+)/);
  const [, databaseUrl] = await first.waitFor(/PostgreSQL\s+(postgres:\S+)/);
  const [, rpcUrl] = await first.waitFor(/anvil\s+(http:\S+)/);
  const [, checkpointText] = await first.waitFor(/demo:31337 mode=realtime checkpoint=(\d+) .*logs=([1-9]\d*)/);
  assert.ok(Number(checkpointText) > 0);

  // The Web UI answers, and the worker's metrics count what was indexed.
  const ui = await fetch(uiUrl!);
  assert.equal(ui.status, 200);
  const [, metricsUrl] = await first.waitFor(/metrics\s+(http:\S+)/);
  const metricsText = await (await fetch(metricsUrl!)).text();
  assert.match(metricsText, /indexer_logs_indexed_total\{indexer="demo",chain_id="31337"\} [1-9]/);
  assert.match(metricsText, /# Temporal SDK worker metrics[\s\S]*temporal_/);

  // The rows equal the chain up to the stored checkpoint.
  const db = new pg.Pool({ connectionString: databaseUrl });
  const client = createPublicClient({ transport: http(rpcUrl) }) as PublicClient;
  try {
    const { rows } = await db.query<{ block_number: string }>('SELECT block_number FROM demo._checkpoints WHERE chain_id = 31337');
    const checkpoint = BigInt(rows[0]!.block_number);
    const result = await assertMatchesChain(db, client, {
      schema: 'demo',
      abi: demoTokenArtifact().abi as Abi,
      address: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
      chainId: 31337,
      toBlock: checkpoint,
      tables: [
        { signature: 'Transfer(address,address,uint256)', table: 'token_transfer', columns: ['from', 'to', 'value'] },
        { signature: 'Approval(address,address,uint256)', table: 'token_approval', columns: ['owner', 'spender', 'value'] },
      ],
    });
    assert.ok(result.rows > 0, 'demo transfers were indexed');

    // The demo's handlers keep the token's balances: equal to a computation from the chain's
    // Transfer logs up to the handlers' checkpoint (mints come from the zero address).
    await first.waitFor(/demo:31337 .*handlers=[1-9]\d*/);
    const before = await assertBalancesEqualChain(db, client, 'before a reorg');
    // A real token's magnitudes: 18 decimals, so balances far above 2^53, among several holders.
    assert.ok([...before.balances.values()].filter((b) => BigInt(b) > 2n ** 53n).length >= 2, `balances of several accounts, above 2^53: ${[...before.balances.values()].join(', ')}`);

    // The demo streams to NATS, and `indexer tail` in the same directory finds it without NATS_URL,
    // also when the dev's own nats-server had to take another port than 4222.
    const tailed = await tailFirstTransfer(cwd, ports.temporal);
    assert.ok(
      tailed.some((l) => /^31337 Token\.Transfer block \d+ log \d+ \{"from":"0x[0-9a-f]{40}","to":"0x[0-9a-f]{40}","value":"\d+"\}$/.test(l)),
      `indexer tail shows the demo's transfers; it printed:\n${tailed.join('\n')}`,
    );

    // A reorg made the way a user makes one (README, issue 33): anvil_reorg of depth 3, no
    // transactions, through the anvil URL the dev run printed; first the handlers at the head, so
    // the blocks it replaces hold handled transfers whose effects must be undone.
    const reorgsBefore = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM demo._reorgs WHERE chain_id = 31337')).rows[0]!.n;
    await eventually(
      'the handlers at the head',
      async () => {
        const head = await client.getBlockNumber();
        const { rows } = await db.query<{ block_number: string }>("SELECT block_number FROM demo._stages WHERE chain_id = 31337 AND stage = 'handlers'");
        return BigInt(rows[0]?.block_number ?? -1) >= head ? true : undefined;
      },
      60_000,
      50,
    );
    const response = await fetch(rpcUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_reorg', params: [3, []] }),
    });
    const answer = (await response.json()) as { error?: unknown };
    assert.equal(answer.error, undefined, `anvil_reorg: ${JSON.stringify(answer)}`);
    const reorg = await eventually(
      'the indexer to see the reorg',
      async () => {
        const { rows } = await db.query<{ n: number; ancestor: string; rows_deleted: string }>(
          'SELECT count(*) OVER ()::int AS n, common_ancestor::text AS ancestor, rows_deleted::text FROM demo._reorgs WHERE chain_id = 31337 ORDER BY id DESC LIMIT 1',
        );
        return rows[0] && rows[0].n > reorgsBefore ? rows[0] : undefined;
      },
      60_000,
    );
    assert.ok(BigInt(reorg.rows_deleted) > 0, `the reorg removed indexed events (${JSON.stringify(reorg)})`);
    // The handlers caught up past the replaced blocks, then every balance equals the canonical chain's.
    await eventually(
      'the handlers past the reorg',
      async () => {
        const { rows } = await db.query<{ block_number: string }>("SELECT block_number FROM demo._stages WHERE chain_id = 31337 AND stage = 'handlers'");
        return BigInt(rows[0]?.block_number ?? -1) > BigInt(reorg.ancestor) + 4n ? true : undefined;
      },
      60_000,
    );
    const after = await assertBalancesEqualChain(db, client, 'after a reorg of depth 3');
    assert.ok(after.handled > BigInt(reorg.ancestor) + 3n);
    assert.ok(after.balances.has(DEPLOYER), "the deployer's balance is among them");
  } finally {
    await db.end();
  }

  assert.equal(await first.interrupt(), 0, `indexer dev exits 0 on Ctrl-C; output:\n${first.lines.join('\n')}`);
  // Stopped in order: the worker reported its last activity before the Temporal server went away.
  const shutdownWarnings = first.lines.filter((l) => /temporalio_(sdk_core|client)\S*: /.test(l));
  assert.deepEqual(shutdownWarnings, [], 'no Temporal core warnings on Ctrl-C');
  const stoppedAt = Math.max(...first.lines.map((l) => Number(/checkpoint=(\d+)/.exec(l)?.[1] ?? -1)));
  assert.ok(!existsSync(path.join(cwd, '.indexer', 'nats-url')), 'the dev NATS URL is forgotten with its server');
  // Everything it started is gone: the ports are free again.
  for (const port of Object.values(ports)) assert.ok(await canListen(port), `port ${port} was released`);

  const second = runDev(cwd, ports);
  runs.push(second);
  const [, resumed] = await second.waitFor(/demo:31337 mode=\w+ checkpoint=(\d+)/);
  assert.ok(Number(resumed) >= stoppedAt, `the second run resumed at ${resumed}, not from the start (first stopped at ${stoppedAt})`);
  assert.equal(await second.interrupt(), 0);
});
