/**
 * `npm run bench:api`: the read API (`indexer serve`) against plain SQL through `pg`, on the same
 * machine in the same run. An event table of 1,000,000 rows and a derived table of 100,000, in the
 * indexer's own table shapes (written straight into PostgreSQL: no chain needed), with the indexes
 * the indexer builds after a backfill (every indexed argument and block_number). autocannon, 32
 * connections, per query:
 *
 *   (a) a primary-key lookup           { balance(account: …) { account balance } }
 *   (b) a page of 100 filtered on an indexed column
 *                                      { tokenTransfers(first: 100, filter: { to: { equalTo: … } }) { nodes { … } } }
 *   (c) the same page with totalCount
 *
 * Each beside the same query as SQL, answered by a minimal HTTP server with a `pg` pool (the limit:
 * what any API over HTTP and pg pays at least). Both servers are processes of their own; the API's
 * resident memory (peak) is read from /proc. Prints a markdown table and writes
 * bench/results/api-<time>.json. PostgreSQL: DATABASE_URL, else an embedded one whose data stays
 * in the temp directory (indexer-bench-api-pg) for the next run.
 *
 *   node --import tsx bench/api.ts [--seconds 10] [--connections 32] [--rows 1000000] [--derived 100000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { parseAbi } from 'viem';
import { eventTables } from '../src/abi/layout';
import { ensureSchema } from '../src/db/schema';
import { startEmbeddedPostgres } from '../src/dev/postgres';
import { stageRuntimes } from '../src/stages/runtimes';
import { freePort } from '../test/helpers/ports';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rows: { type: 'string', default: '1000000' },
    derived: { type: 'string', default: '100000' },
    // Internal: run as the plain-SQL server on this port.
    'sql-server': { type: 'string' },
  },
});
const SECONDS = Number(flags.seconds);
const CONNECTIONS = Number(flags.connections);
const ROWS = Number(flags.rows);
const DERIVED = Number(flags.derived);
const SCHEMA = 'bench_api';
const RECIPIENTS = 2_000; // 1M transfers over 2,000 recipients: ~500 rows per `to`
const say = (line: string) => process.stdout.write(`${line}\n`);

// --- PostgreSQL and the data ------------------------------------------------------------------

let stopPostgres: (() => Promise<void>) | undefined;
let databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl && !process.argv.includes('--sql-server')) {
  // Kept between runs (the data takes a minute to write), in the temp directory: as root the
  // embedded PostgreSQL runs as the user postgres, who must reach its data directory.
  const pgDir = path.join(os.tmpdir(), 'indexer-bench-api-pg');
  mkdirSync(pgDir, { recursive: true });
  chmodSync(pgDir, 0o755);
  say('starting embedded PostgreSQL …');
  const embedded = await startEmbeddedPostgres({ dataDir: path.join(pgDir, 'data'), port: await freePort() });
  databaseUrl = embedded.url;
  stopPostgres = embedded.stop;
}
const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
db.on('error', () => undefined);

const address = (n: number) => `0x${n.toString(16).padStart(40, '0')}`;

async function prepareData(): Promise<void> {
  const have = await db.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename IN ('token_transfer', 'balances')`, [SCHEMA]);
  if (have.rows[0].n === 2) {
    const rows = await db.query(`SELECT (SELECT count(*) FROM ${SCHEMA}.token_transfer)::int AS t, (SELECT count(*) FROM ${SCHEMA}.balances)::int AS b`);
    if (rows.rows[0].t === ROWS && rows.rows[0].b === DERIVED) return;
  }
  await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  const abi = parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)']);
  await ensureSchema(db, SCHEMA, eventTables('Token', abi.filter((e) => e.type === 'event')), { stageDdl: stageRuntimes.flatMap((r) => r.ddl(SCHEMA)) });
  const started = Date.now();
  // 10 transfers per block; values of 18-decimal tokens up to 10^30 wei.
  await db.query(
    `INSERT INTO ${SCHEMA}.token_transfer
     SELECT 31337, 1000 + g / 10, '0x' || md5('block' || (g / 10)), timestamptz '2026-01-01' + (g / 10) * interval '2 seconds', g % 10,
            '0x' || md5('tx' || g), g % 10, '0x5fbdb2315678afecb367f032d93f642f64180aa3',
            '0x' || lpad(to_hex((g::bigint * 7919) % 50000), 40, '0'), '0x' || lpad(to_hex((g::bigint * 104729) % ${RECIPIENTS}), 40, '0'),
            ((g::numeric * 982451653) % 1000000000000) * 1000000000000000000 + g
       FROM generate_series(0, ${ROWS - 1}) g`,
  );
  await db.query(`INSERT INTO ${SCHEMA}._checkpoints (chain_id, block_number) VALUES (31337, ${1000 + Math.floor((ROWS - 1) / 10)})`);
  await db.query(`CREATE TABLE ${SCHEMA}.balances (account text PRIMARY KEY, balance numeric(78,0) NOT NULL, transfers integer NOT NULL DEFAULT 0)`);
  await db.query(
    `INSERT INTO ${SCHEMA}.balances SELECT '0x' || lpad(to_hex(g), 40, '0'), (g::numeric * 1000003) * 1000000000000000000, g % 1000 FROM generate_series(1, ${DERIVED}) g`,
  );
  // What the indexer builds after its backfill: each indexed argument and block_number.
  for (const column of ['from', 'to', 'block_number']) await db.query(`CREATE INDEX ON ${SCHEMA}.token_transfer ("${column}")`);
  await db.query(`VACUUM ANALYZE ${SCHEMA}.token_transfer`);
  await db.query(`VACUUM ANALYZE ${SCHEMA}.balances`);
  say(`data: ${ROWS.toLocaleString('en')} transfers, ${DERIVED.toLocaleString('en')} balances in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// --- The two servers --------------------------------------------------------------------------

interface Server {
  child: ChildProcess;
  url: string;
  peakRssMb: () => number;
  stop: () => Promise<void>;
}

function rssOf(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

async function waitFor(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${output()}`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`server never answered ${url}: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startServer(args: string[], readyUrl: (port: number) => string, env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [...args, String(port)], { cwd: ROOT, env: { ...process.env, ...env, API_PORT: String(port), DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  await waitFor(readyUrl(port), child, () => output);
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    peakRssMb: () => rssOf(child.pid!).hwm,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** The plain-SQL server: the same queries through `pg`, JSON over HTTP (a child process, run as `bench/api.ts --sql-server PORT`). */
async function sqlServer(port: number): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 16 });
  // Numbers as text, as the API returns them (and ordered by the columns, not by that text).
  const page = `SELECT t.block_number::text AS "blockNumber", t.log_index AS "logIndex", t."from", t."to", t.value::text AS value
                  FROM ${SCHEMA}.token_transfer t WHERE t."to" = $1 ORDER BY t.chain_id, t.block_number, t.log_index LIMIT 101`;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://x');
        const input = body ? (JSON.parse(body) as { key: string }) : { key: '' };
        let result: unknown;
        if (url.pathname === '/pk') {
          result = (await pool.query(`SELECT account, balance::text FROM ${SCHEMA}.balances WHERE account = $1`, [input.key])).rows[0] ?? null;
        } else if (url.pathname === '/page') {
          result = (await pool.query(page, [input.key])).rows.slice(0, 100);
        } else if (url.pathname === '/page-count') {
          const [rows, count] = await Promise.all([pool.query(page, [input.key]), pool.query(`SELECT count(*)::text AS n FROM ${SCHEMA}.token_transfer WHERE "to" = $1`, [input.key])]);
          result = { nodes: rows.rows.slice(0, 100), totalCount: Number(count.rows[0].n) };
        } else {
          result = 'ok';
        }
        const text = JSON.stringify({ data: result });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      } catch (error) {
        res.writeHead(500);
        res.end(String(error));
      }
    });
  });
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    void pool.end().then(() => process.exit(0));
  });
}

// --- Load ------------------------------------------------------------------------------------

interface Figures {
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  non2xx: number;
}

/** autocannon against `url`, each request's body from `body(i)` (cycling keys so caches do not flatter). */
async function load(url: string, body: (i: number) => string, seconds = SECONDS): Promise<Figures> {
  let i = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    requests: [{ setupRequest: (request) => ({ ...request, body: body(i++) }) }],
  });
  return { p50: result.latency.p50, p99: result.latency.p99, rps: result.requests.average, errors: result.errors, non2xx: result.non2xx };
}

const keys = Array.from({ length: 5_000 }, (_, n) => address(1 + ((n * 7919) % DERIVED)));
const recipients = Array.from({ length: RECIPIENTS }, (_, n) => address((n * 31) % RECIPIENTS));

const SCENARIOS = [
  {
    label: '(a) primary-key lookup',
    graphql: (n: number) => JSON.stringify({ query: 'query($a: String!) { balance(account: $a) { account balance } }', variables: { a: keys[n % keys.length] } }),
    sqlPath: '/pk',
    sql: (n: number) => JSON.stringify({ key: keys[n % keys.length] }),
  },
  {
    label: '(b) page of 100, filtered on an indexed column',
    graphql: (n: number) =>
      JSON.stringify({ query: 'query($to: String!) { tokenTransfers(first: 100, filter: { to: { equalTo: $to } }) { nodes { blockNumber logIndex from to value } } }', variables: { to: recipients[n % recipients.length] } }),
    sqlPath: '/page',
    sql: (n: number) => JSON.stringify({ key: recipients[n % recipients.length] }),
  },
  {
    label: '(c) the same page with totalCount',
    graphql: (n: number) =>
      JSON.stringify({
        query: 'query($to: String!) { tokenTransfers(first: 100, filter: { to: { equalTo: $to } }) { totalCount nodes { blockNumber logIndex from to value } } }',
        variables: { to: recipients[n % recipients.length] },
      }),
    sqlPath: '/page-count',
    sql: (n: number) => JSON.stringify({ key: recipients[n % recipients.length] }),
  },
];

async function main(): Promise<void> {
  await prepareData();
  say('building dist/ …');
  await new Promise<void>((resolve, reject) => spawn('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' }).on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build: ${code}`)))));
  const api = await startServer([path.join(ROOT, 'bin', 'indexer.mjs'), 'serve', SCHEMA, '--port'], (port) => `http://127.0.0.1:${port}/graphql/${SCHEMA}?query=%7B_meta%7BchainId%7D%7D`, { NODE_ENV: 'production' });
  const sql = await startServer(['--import', 'tsx', fileURLToPath(import.meta.url), '--sql-server'], (port) => `http://127.0.0.1:${port}/health`);
  const rows: Array<{ scenario: string; graphql: Figures; sql: Figures }> = [];
  try {
    // The answers agree before anything is timed.
    const check = await (await fetch(`${api.url}/graphql/${SCHEMA}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SCENARIOS[2]!.graphql(3) })).json();
    const checkSql = await (await fetch(`${sql.url}/page-count`, { method: 'POST', body: SCENARIOS[2]!.sql(3) })).json();
    const gqlNodes = (check as { data: { tokenTransfers: { totalCount: number; nodes: unknown[] } } }).data.tokenTransfers;
    const sqlNodes = (checkSql as { data: { totalCount: number; nodes: unknown[] } }).data;
    if (gqlNodes.totalCount !== sqlNodes.totalCount || gqlNodes.nodes.length !== sqlNodes.nodes.length) throw new Error(`the answers differ: ${JSON.stringify(check).slice(0, 300)} / ${JSON.stringify(checkSql).slice(0, 300)}`);
    say(`page (c) holds ${gqlNodes.nodes.length} of ${gqlNodes.totalCount} rows for one recipient`);

    for (const s of SCENARIOS) {
      // Warm both (plans, caches, connections), then measure them one after the other.
      await load(`${api.url}/graphql/${SCHEMA}`, s.graphql, 2);
      await load(`${sql.url}${s.sqlPath}`, s.sql, 2);
      const graphql = await load(`${api.url}/graphql/${SCHEMA}`, s.graphql);
      const plain = await load(`${sql.url}${s.sqlPath}`, s.sql);
      rows.push({ scenario: s.label, graphql, sql: plain });
      say(`${s.label}: GraphQL p50 ${graphql.p50} ms p99 ${graphql.p99} ms ${graphql.rps.toFixed(0)} req/s; SQL p50 ${plain.p50} ms p99 ${plain.p99} ms ${plain.rps.toFixed(0)} req/s`);
    }
  } finally {
    const peak = api.peakRssMb();
    await api.stop();
    await sql.stop();
    const table = [
      `| query (${CONNECTIONS} connections, ${SECONDS} s each) | GraphQL p50 | GraphQL p99 | GraphQL req/s | SQL p50 | SQL p99 | SQL req/s | p50 ratio |`,
      '|---|---|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.scenario} | ${r.graphql.p50} ms | ${r.graphql.p99} ms | ${r.graphql.rps.toFixed(0)} | ${r.sql.p50} ms | ${r.sql.p99} ms | ${r.sql.rps.toFixed(0)} | ${(r.graphql.p50 / Math.max(r.sql.p50, 0.001)).toFixed(2)}× |`,
      ),
    ];
    const errors = rows.reduce((a, r) => a + r.graphql.errors + r.graphql.non2xx + r.sql.errors + r.sql.non2xx, 0);
    say('');
    table.forEach((l) => say(l));
    say(`\nAPI server peak RSS: ${peak.toFixed(0)} MB; errors and non-2xx answers: ${errors}`);
    const resultsDir = path.join(ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `api-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, connections: CONNECTIONS, seconds: SECONDS, rows: ROWS, derived: DERIVED, results: rows, apiPeakRssMb: peak, errors }, null, 2)}\n`);
    say(`written to ${path.relative(ROOT, file)}`);
  }
}

if (flags['sql-server']) {
  await sqlServer(Number(flags['sql-server']));
} else {
  try {
    await main();
  } finally {
    await db.end();
    await stopPostgres?.();
  }
}
