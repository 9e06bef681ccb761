import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { parseAbi } from 'viem';
import { eventTables } from '../../src/abi/layout';
import { ApiMetrics } from '../../src/api/metrics';
import { startApiServer, type ApiServer } from '../../src/api/server';
import { ensureSchema } from '../../src/db/schema';
import { startEmbeddedPostgres, type LocalPostgres } from '../../src/dev/postgres';
import { createLogger } from '../../src/logger';
import { stageRuntimes } from '../../src/stages/runtimes';
import { PROMETHEUS_CONFIG, exposedMetricNames, metricNamesIn } from '../helpers/metric-names';
import { freePort } from '../helpers/ports';
import { uniqueName } from '../helpers/stack';
import { INDEXER_BIN, REPO_ROOT, assertOneLineError, eventually, runCli } from '../helpers/workers';

/**
 * `indexer serve` on PostgreSQL alone (no Temporal, no chain: the API needs neither), on tables of
 * the indexer's own shapes: the IDE in a real headless Chromium, the command itself, PostgreSQL
 * going away and coming back, the statement timeout, and no secret in any error or log line.
 */

// Evaluated in the page, not in node (no DOM types here).
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'indexer-local'; // the embedded PostgreSQL's: treated as the secret it would be
let postgres: LocalPostgres;
let dataDir: string;
let port: number;
let db: pg.Pool;
const name = uniqueName('api serve');
const logs = new PassThrough();
let logText = '';
logs.on('data', (c) => (logText += c));

const transferAbi = parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)']);

before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'indexer-api-serve-pg-'));
  chmodSync(dataDir, 0o755);
  port = await freePort();
  postgres = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'data'), port });
  db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on('error', () => undefined);
  // An indexer's tables, as `indexer start` makes them, filled straight in (no chain needed).
  await ensureSchema(db, name, eventTables('Token', transferAbi.filter((e) => e.type === 'event')), { stageDdl: stageRuntimes.flatMap((r) => r.ddl(name)) });
  await db.query(`INSERT INTO "${name}"._checkpoints (chain_id, block_number) VALUES (31337, 5000)`);
  await db.query(
    `INSERT INTO "${name}".token_transfer
     SELECT 31337, g / 4, '0x' || md5(g::text), now(), g % 4, '0x' || md5('tx' || g), 0, '0x5fbdb2315678afecb367f032d93f642f64180aa3',
            '0x' || lpad(to_hex(g % 50), 40, '0'), '0x' || lpad(to_hex(g % 97), 40, '0'), (g::numeric * 1000000000000000000) + 1
       FROM generate_series(1, 200000) g`,
  );
  await db.query(`CREATE TABLE "${name}".balances (account text PRIMARY KEY, balance numeric(78,0) NOT NULL)`);
  await db.query(`INSERT INTO "${name}".balances VALUES ('0x00000000000000000000000000000000000000aa', ${2n ** 256n - 1n}), ('0x00000000000000000000000000000000000000bb', -5)`);
});

after(async () => {
  await db?.end().catch(() => undefined);
  await postgres?.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

async function startApi(options: { statementTimeoutMs?: number } = {}): Promise<ApiServer> {
  return startApiServer({
    databaseUrl: postgres.url,
    port: await freePort(),
    host: '127.0.0.1',
    statementTimeoutMs: options.statementTimeoutMs ?? 5_000,
    indexers: [name],
    logger: createLogger({ level: 'info', pretty: false, destination: logs }),
    refreshMs: 500,
  });
}

async function post(url: string, query: string): Promise<{ status: number; text: string; body: { data?: Record<string, any>; errors?: Array<{ message: string; extensions?: { code?: string } }> } }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

test('the IDE: headless Chromium opens /graphql/<name>, runs a query, and the result appears on the page', { timeout: 180_000 }, async () => {
  const api = await startApi();
  try {
    await api.settled();
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const failed: string[] = [];
      page.on('response', (r) => {
        if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) failed.push(`${r.status()} ${r.url()}`);
      });
      const response = await page.goto(api.graphqlUrl(name), { waitUntil: 'load' });
      assert.equal(response?.status(), 200);
      assert.match((await response?.headerValue('content-type')) ?? '', /text\/html/);
      await page.waitForSelector('.graphiql-execute-button', { timeout: 60_000 });
      // The IDE opens with an example query on the indexer's tables; the schema (introspection) loads first.
      await page.waitForFunction(() => (document.querySelector('.graphiql-query-editor')?.textContent ?? '').includes('_meta'), null, { timeout: 60_000 });
      await page.waitForTimeout(1_000);
      await page.click('.graphiql-execute-button');
      const result = await page.waitForFunction(
        () => {
          const text = (document.querySelector('.result-window')?.textContent ?? '').replace(/\s+/g, ' ');
          return text.includes('"chainId": 31337') && text.includes('"totalCount"') ? text : false;
        },
        null,
        { timeout: 60_000 },
      );
      const text = String(await result.jsonValue());
      assert.match(text, /"checkpoint": 5000/);
      assert.doesNotMatch(text, /"errors"/);
      await page.screenshot({ path: path.join(os.tmpdir(), `${name}-ide.png`) });
      assert.deepEqual(failed, [], 'every request of the page succeeded');
    } finally {
      await browser.close();
    }
  } finally {
    await api.close();
  }
});

test('indexer serve: a one-line error without DATABASE_URL; with it, the URL, /health/ready, /graphql, /metrics; SIGTERM stops it', { timeout: 120_000 }, async () => {
  const missing = await runCli(['serve', name], { DATABASE_URL: '' });
  assertOneLineError(missing, /DATABASE_URL is not set: indexer serve needs the PostgreSQL/, 'indexer serve without DATABASE_URL');
  const badName = await runCli(['serve', 'Not-A-Name'], { DATABASE_URL: postgres.url });
  assertOneLineError(badName, /"Not-A-Name" is not an indexer name/, 'indexer serve with a bad name');

  const apiPort = await freePort();
  const child = spawn(process.execPath, [INDEXER_BIN, 'serve', name, '--port', String(apiPort)], { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: postgres.url, LOG_LEVEL: 'info' } });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const base = `http://127.0.0.1:${apiPort}`;
    await eventually('indexer serve prints its URL', async () => (output.includes(`${base}/graphql/${name}`) ? true : undefined), 60_000, 100);
    assert.equal((await fetch(`${base}/health/ready`)).status, 200);
    // One indexer served: /graphql is it too.
    const q = await post(`${base}/graphql`, `{ balances(orderBy: [BALANCE_DESC]) { nodes { account balance } } tokenTransfers(first: 2) { totalCount } }`);
    assert.equal(q.status, 200);
    assert.deepStrictEqual(q.body.data!.balances.nodes[0], { account: '0x00000000000000000000000000000000000000aa', balance: String(2n ** 256n - 1n) });
    assert.equal(q.body.data!.tokenTransfers.totalCount, 200000);
    // GET for queries (curl-friendly); a browser's GET gets the IDE.
    const get = await fetch(`${base}/graphql/${name}?query=${encodeURIComponent('{ _meta { chainId checkpoint } }')}`, { headers: { accept: 'application/json' } });
    assert.deepStrictEqual(await get.json(), { data: { _meta: [{ chainId: 31337, checkpoint: 5000 }] } });
    const html = await fetch(`${base}/graphql/${name}`, { headers: { accept: 'text/html' } });
    assert.match(await html.text(), /ruru/i);
    assert.equal((await fetch(`${base}/graphql/nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ _meta { chainId } }"}' })).status, 404);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, new RegExp(`indexer_api_requests_total\\{indexer="${name}",transport="http",operation="query",outcome="ok"\\} [1-9]`));
    assert.match(metrics, /indexer_api_request_duration_seconds_bucket/);
    assert.match(metrics, /indexer_api_process_resident_memory_bytes/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
  } finally {
    child.kill('SIGKILL');
  }
  assert.ok(!output.includes(PASSWORD), 'the password is in no output line');
});

test('PostgreSQL away: /health/ready 503 and an error naming it; back: 200 and answers again without a restart; a slow query meets the statement timeout; no secret anywhere', { timeout: 180_000 }, async () => {
  const api = await startApi({ statementTimeoutMs: 30 });
  try {
    await api.settled();
    const url = api.graphqlUrl(name);
    assert.equal((await fetch(`${api.url}/health/ready`)).status, 200);

    // A query slower than the statement timeout (30 ms here) is cancelled, and the error says why.
    const slow = await post(url, `{ tokenTransfers(filter: { or: [{ blockHash: { likeInsensitive: "%a%b%c%d%e%f%0%1%" } }, { txHash: { includesInsensitive: "zz" } }] }) { totalCount } }`);
    assert.equal(slow.body.errors?.[0]?.extensions?.code, 'STATEMENT_TIMEOUT', slow.text);
    assert.match(slow.body.errors![0]!.message, /statement timeout \(API_STATEMENT_TIMEOUT_MS=30\)/);
    // A fast one still answers.
    assert.ok((await post(url, `{ balance(account: "0x00000000000000000000000000000000000000bb") { balance } }`)).body.data?.balance);

    await postgres.stop();
    const down = await fetch(`${api.url}/health/ready`);
    assert.equal(down.status, 503);
    const downText = await down.text();
    assert.match(downText, /not ready: PostgreSQL/);
    const failed = await post(url, `{ balances { nodes { account } } }`);
    assert.equal(failed.body.errors?.[0]?.extensions?.code, 'DATABASE_UNAVAILABLE', failed.text);
    assert.match(failed.body.errors![0]!.message, /PostgreSQL is unavailable/);
    for (const text of [downText, failed.text]) assert.ok(!text.includes(PASSWORD), `no password in ${text}`);

    postgres = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'data'), port });
    await eventually('ready again', async () => ((await fetch(`${api.url}/health/ready`)).status === 200 ? true : undefined), 60_000, 250);
    const again = await post(url, `{ balances(orderBy: [BALANCE_ASC]) { nodes { balance } } }`);
    assert.deepStrictEqual(again.body.data?.balances.nodes, [{ balance: '-5' }, { balance: String(2n ** 256n - 1n) }], again.text);
  } finally {
    await api.close();
  }
  assert.ok(logText.length > 0, 'the server logged');
  assert.ok(!logText.includes(PASSWORD), 'the password is in no log line');
});

test('the read API dashboard reads only metrics the API exports, and Prometheus scrapes the API', async () => {
  const dashboard = JSON.parse(readFileSync(path.join(REPO_ROOT, 'deploy', 'grafana', 'dashboards', 'api.json'), 'utf8')) as {
    panels: Array<{ targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ definition?: string }> };
  };
  const read = [...new Set([...dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr)), ...dashboard.templating.list.map((v) => v.definition ?? '')].flatMap(metricNamesIn))];
  assert.ok(read.length >= 8, `the dashboard reads the API's metrics (${read.join(', ')})`);
  const exported = exposedMetricNames(await new ApiMetrics().metrics());
  assert.deepEqual(read.filter((m) => !exported.has(m)), [], 'metrics the dashboard reads that the API does not export');
  for (const m of ['indexer_api_requests_total', 'indexer_api_request_duration_seconds', 'indexer_api_errors_total']) assert.ok(read.includes(m), `the dashboard shows ${m}`);
  assert.match(readFileSync(PROMETHEUS_CONFIG, 'utf8'), /job_name: indexer-api\n[\s\S]*names: \[api\][\s\S]*port: 42069/);
});
