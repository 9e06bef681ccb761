import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toEventSelector, type Address } from 'viem';
import { startApiServer, type ApiServer } from '../../src/api/server';
import { createLogger } from '../../src/logger';
import { e2e, type TestIndexer } from '../helpers/fixture';
import { assertMatchesChain, storedRows, type Row, type TableExpectation } from '../helpers/oracle';
import { freePort } from '../helpers/ports';
import { compileFixture } from '../helpers/solidity';
import { eventually } from '../helpers/workers';

/**
 * The read API (`indexer serve`, docs/api.md) over live indexers on a real Temporal dev server,
 * PostgreSQL and anvil: exact values of every ABI type, pagination while the indexer ingests,
 * filters and orderBy against the same SQL, refusals that write nothing, and the schema re-read
 * when a table changes. The API serves every indexer of the database (no names), as a replica would.
 */

const t = e2e();
const emitter = compileFixture('Emitter');
const allTypes = compileFixture('AllTypes');

let api: ApiServer | undefined;

async function server(): Promise<ApiServer> {
  if (!api) {
    api = await startApiServer({
      databaseUrl: t.stack.databaseUrl,
      port: await freePort(),
      host: '127.0.0.1',
      statementTimeoutMs: 5_000,
      indexers: [],
      logger: createLogger({ level: 'warn', pretty: false, destination: process.stderr }),
      refreshMs: 500,
    });
    t.defer(() => api?.close());
  }
  return api;
}

interface GraphQLResponse {
  status: number;
  text: string;
  data?: Record<string, any>;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

async function gql(name: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse> {
  const res = await fetch((await server()).graphqlUrl(name), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { status: res.status, text, ...(JSON.parse(text) as object) };
}

/** The data of a query that must succeed. */
async function data(name: string, query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
  const r = await gql(name, query, variables);
  assert.equal(r.errors, undefined, `${query}\n→ ${r.text}`);
  return r.data!;
}

/** Waits until the API serves the indexer's tables (it finds new indexers by itself). */
async function served(name: string, field: string): Promise<void> {
  await server();
  await eventually(`the API to serve ${name}.${field}`, async () => ((await gql(name, `{ ${field}(first: 1) { totalCount } }`)).data ? true : undefined), 60_000, 250);
}

/** snake_case column → the GraphQL field (camelCase). */
const camel = (column: string) => column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Connection fields of the Query type, with the fields of their nodes. */
async function connections(name: string): Promise<Map<string, string[]>> {
  const d = await data(name, `{ __schema { queryType { fields { name type { name } } } } }`);
  const out = new Map<string, string[]>();
  for (const f of d.__schema.queryType.fields as Array<{ name: string; type: { name: string | null } }>) {
    if (!f.type.name?.endsWith('Connection')) continue;
    const node = await data(name, `{ __type(name: "${f.type.name.replace(/Connection$/, '')}") { fields { name } } }`);
    out.set(f.name, (node.__type.fields as Array<{ name: string }>).map((x) => x.name));
  }
  return out;
}

/** A stored value as the API must give it: integers of any size as decimal strings, timestamps as instants. */
function asGraphQL(value: unknown, sqlType: string): unknown {
  if (value === null) return null;
  if (sqlType === 'bigint' || sqlType.startsWith('numeric')) return String(value);
  return value;
}

const transferWithData = toEventSelector('Transfer(address,address,uint256,bytes)').slice(2, 10);
const ALL_TYPES_TABLES: TableExpectation[] = [
  { signature: 'Ints(uint8,uint256,int8,int256,int64,uint128,uint24)', table: 'all_types_ints', columns: ['small', 'big', 'tiny', 'signed_big', 'neg', 'mid', 'odd'] },
  { signature: 'Basics(address,bool,string,bytes,bytes32,bytes1,bytes16)', table: 'all_types_basics', columns: ['from_address', 'flag', 'text', 'blob', 'word', 'one', 'half'] },
  { signature: 'Arrays(uint256[],address[2],bytes32[],string[],int16[][],bool[3])', table: 'all_types_arrays', columns: ['nums', 'pair', 'words', 'texts', 'nested', 'flags'] },
  { signature: 'Tuples((int64,(uint8,address,bytes),string[],bytes32),(uint8,address,bytes)[],uint256)', table: 'all_types_tuples', columns: ['outer', 'inners', 'token_id'] },
  { signature: 'IndexedDynamic(string,bytes,uint256[],uint256)', table: 'all_types_indexed_dynamic', columns: ['label', 'data', 'ids', 'value'] },
  { signature: 'IndexedTuple((uint8,address,bytes),int256,bool)', table: 'all_types_indexed_tuple', columns: ['inner', 'signed_topic', 'flag_topic'] },
  { signature: 'Transfer(address,address,uint256)', table: 'all_types_transfer_ddf252ad', columns: ['from', 'to', 'value'] },
  { signature: 'Transfer(address,address,uint256,bytes)', table: `all_types_transfer_${transferWithData}`, columns: ['from', 'to', 'value', 'data'] },
  { signature: 'Collide(uint256,uint256,uint256,address)', table: 'all_types_collide', columns: ['arg_block_number', 'arg_tx_hash', 'arg2', 'arg_log_index'] },
];

test('every column type of the all-types contract through GraphQL equals the stored row and the chain: uint256 max, int256 min, bytes, tuples, arrays', { timeout: 240_000 }, async () => {
  const address: Address = await t.chain.deploy(allTypes.abi, allTypes.bytecode);
  // Seed 0 emits uint256 max and int256 min exactly (Ints: max - seed, min + seed).
  for (let seed = 0n; seed <= 3n; seed++) await t.chain.send(address, allTypes.abi, 'emitAll', [seed]);
  const ix = await t.indexer({
    title: 'api all types',
    config: (name) => ({ name, chains: { local: { id: t.chain.chainId, maxBlockRange: 50, pollIntervalMs: 200 } }, contracts: [{ name: 'AllTypes', chain: 'local', address, abi: allTypes.abi }] }),
  });
  const head = await t.chain.publicClient.getBlockNumber();
  await ix.waitForCheckpoint(head);
  // Stored rows equal the chain (the oracle decodes eth_getLogs apart from the indexer) …
  await assertMatchesChain(t.stack.db, t.chain.publicClient, { schema: ix.name, abi: allTypes.abi, address, chainId: t.chain.chainId, toBlock: head, tables: ALL_TYPES_TABLES });
  await served(ix.name, 'allTypesInts');
  const fields = await connections(ix.name);

  // … and GraphQL gives every stored row, every column, exactly.
  let compared = 0;
  for (const table of ALL_TYPES_TABLES) {
    const stored = await storedRows(t.stack.db, ix.name, table.table, t.chain.chainId, head);
    const { rows: types } = await t.stack.db.query<{ column_name: string; type: string }>(
      `SELECT a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [ix.name, table.table],
    );
    const columns = types.map((c) => c.column_name);
    const connection = [...fields].find(([, f]) => columns.every((c) => f.includes(camel(c))) && f.length === columns.length)?.[0];
    assert.ok(connection, `a connection for ${table.table} (columns ${columns.join(', ')})`);
    const d = await data(ix.name, `{ ${connection}(first: 1000, orderBy: [BLOCK_NUMBER_ASC, LOG_INDEX_ASC], filter: { blockNumber: { lessThanOrEqualTo: "${head}" } }) { totalCount nodes { ${columns.map(camel).join(' ')} } } }`);
    const nodes = d[connection].nodes as Row[];
    assert.equal(nodes.length, stored.length, `${table.table}: rows`);
    assert.equal(d[connection].totalCount, stored.length);
    nodes.forEach((node, i) => {
      for (const { column_name: column, type } of types) {
        const got = node[camel(column)];
        const want = stored[i]![column];
        if (type === 'timestamp with time zone') {
          assert.match(String(got), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, `${table.table}.${column} is ISO 8601`);
          assert.equal(new Date(String(got)).getTime(), (want as Date).getTime(), `${table.table}.${column} row ${i}`);
        } else {
          assert.deepStrictEqual(got, asGraphQL(want, type), `${table.table}.${column} row ${i}`);
        }
        compared++;
      }
    });
  }
  assert.ok(compared > 250, `compared ${compared} values`);

  // The extremes, digit for digit, in the response text itself.
  const ints = await gql(ix.name, `{ allTypesInts(orderBy: [BIG_DESC]) { nodes { big signedBig small tiny } } }`);
  assert.ok(ints.text.includes(`"big":"${2n ** 256n - 1n}"`), 'uint256 max digit for digit');
  assert.ok(ints.text.includes(`"signedBig":"${-(2n ** 255n)}"`), 'int256 min digit for digit');
  // Filters on numeric(78,0) compare exactly at the extremes.
  const max = await data(ix.name, `{ allTypesInts(filter: { big: { equalTo: "${2n ** 256n - 1n}" } }) { totalCount } min: allTypesInts(filter: { signedBig: { lessThan: "${-(2n ** 255n) + 1n}" } }) { totalCount } }`);
  assert.equal(max.allTypesInts.totalCount, 1);
  assert.equal(max.min.totalCount, 1);
  // A primary-key lookup.
  const one = stored0(await storedRows(t.stack.db, ix.name, 'all_types_tuples', t.chain.chainId, head));
  const byKey = await data(ix.name, `{ allTypesTuple(chainId: "${t.chain.chainId}", blockNumber: "${one.block_number}", logIndex: ${one.log_index}) { outer inners tokenId } }`);
  assert.deepStrictEqual(byKey.allTypesTuple, { outer: one.outer, inners: one.inners, tokenId: String(one.token_id) });
  await ix.close();
});

function stored0(rows: Row[]): Row {
  assert.ok(rows.length > 0);
  return rows[0]!;
}

async function emit(address: Address, count: number, salt: number, account = 0): Promise<void> {
  const hash = await t.chain.wallet.writeContract({ address, abi: emitter.abi, functionName: 'emitMany', args: [BigInt(count), BigInt(salt)], account: t.chain.accounts[account]! } as never);
  await t.chain.publicClient.waitForTransactionReceipt({ hash });
}

let paging: { ix: TestIndexer; address: Address } | undefined;

test('pagination walks thousands of rows with first/after, each exactly once, while the indexer keeps ingesting; filters and orderBy agree with the same SQL', { timeout: 300_000 }, async () => {
  const address: Address = await t.chain.deploy(emitter.abi, emitter.bytecode);
  for (let salt = 1; salt <= 12; salt++) await emit(address, 250, salt, salt % 4);
  const ix = await t.indexer({
    title: 'api paging',
    config: (name) => ({ name, chains: { local: { id: t.chain.chainId, maxBlockRange: 40, pollIntervalMs: 100 } }, contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }] }),
  });
  paging = { ix, address };
  const head = await t.chain.publicClient.getBlockNumber();
  await ix.waitForCheckpoint(head);
  await served(ix.name, 'emitterTransfers');
  const count = async () => Number((await t.stack.db.query(`SELECT count(*) FROM "${ix.name}".emitter_transfer`)).rows[0].count);
  const before = await count();
  assert.equal(before, 3000);

  // New transfers keep arriving while the client pages.
  let ingesting = true;
  const ingest = (async () => {
    for (let salt = 100; ingesting; salt++) {
      await emit(address, 20, salt, salt % 4);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const seen: string[] = [];
  let after: string | null = null;
  let pages = 0;
  try {
    for (;;) {
      const d = await data(
        ix.name,
        `query Page($after: Cursor) { emitterTransfers(first: 200, after: $after) { edges { cursor node { chainId blockNumber logIndex value } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      const page = d.emitterTransfers;
      for (const e of page.edges) seen.push(`${e.node.blockNumber}:${e.node.logIndex}`);
      pages++;
      // Pace the walk so ingestion goes on during it (and finish once the table has clearly grown).
      await new Promise((r) => setTimeout(r, 100));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
  } finally {
    ingesting = false;
    await ingest;
  }
  assert.ok(pages >= 15, `${pages} pages`);
  assert.equal(new Set(seen).size, seen.length, 'no row twice');
  const last = seen.at(-1)!.split(':');
  const { rows } = await t.stack.db.query<{ k: string }>(
    `SELECT block_number || ':' || log_index AS k FROM "${ix.name}".emitter_transfer WHERE (block_number, log_index) <= ($1::bigint, $2::int) ORDER BY chain_id, block_number, log_index`,
    [last[0], last[1]],
  );
  assert.deepStrictEqual(seen, rows.map((r) => r.k), 'every row up to the last one read, exactly once, in key order');
  assert.ok(seen.length > before, `rows that arrived during the walk were read too (${seen.length} > ${before})`);
  assert.ok((await count()) > before, 'the indexer ingested during the walk');

  // Backwards: last/before agree with the same order reversed.
  const tail = await data(ix.name, `{ emitterTransfers(last: 50, orderBy: [BLOCK_NUMBER_ASC, LOG_INDEX_ASC], filter: { blockNumber: { lessThanOrEqualTo: "${head}" } }) { nodes { blockNumber logIndex } pageInfo { hasPreviousPage hasNextPage } } }`);
  const sqlTail = await t.stack.db.query<{ k: string }>(
    `SELECT k FROM (SELECT block_number || ':' || log_index AS k, block_number, log_index FROM "${ix.name}".emitter_transfer WHERE block_number <= $1 ORDER BY block_number DESC, log_index DESC LIMIT 50) x ORDER BY block_number, log_index`,
    [String(head)],
  );
  assert.deepStrictEqual(tail.emitterTransfers.nodes.map((n: Row) => `${n.blockNumber}:${n.logIndex}`), sqlTail.rows.map((r) => r.k));
  assert.equal(tail.emitterTransfers.pageInfo.hasPreviousPage, true);

  // Filters and orderBy: the same rows, in the same order, as SQL with the same predicate.
  const to = (salt: number, i: number) => `0x${(BigInt(salt) * 1000n + BigInt(i)).toString(16).padStart(40, '0')}`;
  const sender = t.chain.accounts[1]!.toLowerCase();
  const cases: Array<{ what: string; filter: string; orderBy: string; sql: string; order: string; params: unknown[] }> = [
    {
      what: 'greaterThan on numeric, ordered by value desc',
      filter: `{ value: { greaterThan: "7000100" } }`,
      orderBy: '[VALUE_DESC, BLOCK_NUMBER_ASC, LOG_INDEX_ASC]',
      sql: 'value > 7000100',
      order: 'value DESC, block_number, log_index',
      params: [],
    },
    {
      what: 'in on an address column',
      filter: `{ to: { in: ["${to(3, 1)}", "${to(5, 249)}", "${to(9, 100)}"] } }`,
      orderBy: '[BLOCK_NUMBER_DESC, LOG_INDEX_DESC]',
      sql: 'tx_hash IS NOT NULL AND "to" = ANY($2)',
      order: 'block_number DESC, log_index DESC',
      params: [[to(3, 1), to(5, 249), to(9, 100)]],
    },
    {
      what: 'or / and / not, equalTo, lessThanOrEqualTo, isNull',
      filter: `{ or: [{ logIndex: { equalTo: 3 } }, { and: [{ value: { lessThanOrEqualTo: "2000010" } }, { not: { from: { equalTo: "${sender}" } } }] }], blockHash: { isNull: false } }`,
      orderBy: '[FROM_ASC, VALUE_ASC, BLOCK_NUMBER_ASC, LOG_INDEX_ASC]',
      sql: `(log_index = 3 OR (value <= 2000010 AND NOT ("from" = $2))) AND block_hash IS NOT NULL`,
      order: '"from", value, block_number, log_index',
      params: [sender],
    },
    {
      what: 'an order on one column: the primary key breaks its ties',
      filter: `{ logIndex: { lessThan: 40 } }`,
      orderBy: '[TO_DESC]',
      sql: 'log_index < 40',
      order: '"to" DESC, chain_id, block_number, log_index',
      params: [],
    },
  ];
  for (const c of cases) {
    const d = await data(ix.name, `{ emitterTransfers(first: 1000, orderBy: ${c.orderBy}, filter: { and: [${c.filter}, { blockNumber: { lessThanOrEqualTo: "${head}" } }] }) { totalCount nodes { blockNumber logIndex } } }`);
    const { rows: want } = await t.stack.db.query<{ k: string }>(
      `SELECT block_number || ':' || log_index AS k FROM "${ix.name}".emitter_transfer WHERE block_number <= $1 AND ${c.sql} ORDER BY ${c.order} LIMIT 1000`,
      [String(head), ...c.params],
    );
    const { rows: total } = await t.stack.db.query(`SELECT count(*)::int AS n FROM "${ix.name}".emitter_transfer WHERE block_number <= $1 AND ${c.sql}`, [String(head), ...c.params]);
    assert.ok(want.length > 0, `${c.what}: the case selects rows`);
    assert.deepStrictEqual(d.emitterTransfers.nodes.map((n: Row) => `${n.blockNumber}:${n.logIndex}`), want.map((r) => r.k), c.what);
    assert.equal(d.emitterTransfers.totalCount, total[0].n, `${c.what}: totalCount`);
  }

  // Without first or last a page holds 100 rows.
  const page = await data(ix.name, `{ emitterTransfers { nodes { logIndex } pageInfo { hasNextPage } } }`);
  assert.equal(page.emitterTransfers.nodes.length, 100);
  assert.equal(page.emitterTransfers.pageInfo.hasNextPage, true);
});

/** A digest of every table of the schema: equal before and after means nothing was written. */
async function digest(schema: string): Promise<string> {
  const { rows: tables } = await t.stack.db.query<{ relname: string }>(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`, [schema]);
  const parts: string[] = [];
  for (const { relname } of tables) {
    const { rows } = await t.stack.db.query(`SELECT '${relname}:' || count(*) || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') AS d FROM "${schema}"."${relname}" x`);
    parts.push(rows[0].d);
  }
  return parts.join('\n');
}

test('refused with a clear error, nothing written: a mutation, a write smuggled into a filter, a query on _undo_log, first: 100000, a depth-20 query', { timeout: 120_000 }, async () => {
  assert.ok(paging, 'the pagination test ran first');
  const { ix } = paging;
  // A quiet schema: the indexer stops, so any change would be the API's.
  await ix.close();
  const schema = ix.name;
  await t.stack.db.query(`CREATE TABLE "${schema}".scores (account text PRIMARY KEY, score numeric(78,0) NOT NULL)`);
  await t.stack.db.query(`INSERT INTO "${schema}".scores VALUES ('0xaa', 1), ('0xbb', 2)`);
  await served(schema, 'scores');
  const before = await digest(schema);

  const refused = async (what: string, query: string, code: string, message: RegExp, variables?: Record<string, unknown>) => {
    const r = await gql(schema, query, variables);
    assert.equal(r.data, undefined, `${what}: no data (${r.text})`);
    assert.ok(r.errors && r.errors.length > 0, `${what}: an error`);
    assert.equal(r.errors![0]!.extensions?.code, code, `${what}: ${r.text}`);
    assert.match(r.errors![0]!.message, message, what);
  };
  await refused('a mutation', `mutation { deleteScore(input: { account: "0xaa" }) { clientMutationId } }`, 'READ_ONLY', /read-only/);
  await refused('a mutation with a name', `mutation Wipe { createScore(input: { score: { account: "0xcc", score: "3" } }) { clientMutationId } }`, 'READ_ONLY', /read-only/);
  await refused('a query on _undo_log', `{ undoLogs { nodes { id } } }`, 'GRAPHQL_VALIDATION_FAILED', /Cannot query field "undoLogs"/);
  await refused('a query on _checkpoints', `{ checkpoints { nodes { blockNumber } } }`, 'GRAPHQL_VALIDATION_FAILED', /Cannot query field "checkpoints"/);
  await refused('first: 100000', `{ emitterTransfers(first: 100000) { nodes { value } } }`, 'PAGE_SIZE_LIMIT', /first: 100000 .*at most 1000/);
  await refused('last: 5000 as a variable', `query($n: Int) { scores(last: $n) { nodes { score } } }`, 'PAGE_SIZE_LIMIT', /last: 5000/, { n: 5000 });
  // 18 nested `query` fields, then _meta and chainId: 20 levels.
  const deep = `{ ${'query { '.repeat(18)}_meta { chainId }${' }'.repeat(18)} }`;
  await refused('a depth-20 query', deep, 'DEPTH_LIMIT', /20 fields deep.*at most 10/);
  await refused(
    'introspection nested without bound',
    `{ __type(name: "Query") { fields { type { fields { type { fields { type { fields { type { fields { name } } } } } } } } } } }`,
    'DEPTH_LIMIT',
    /introspects 11 levels deep with 5 nested lists/,
  );
  await refused('an orderBy carrying SQL', `{ scores(orderBy: [SCORE_DESC, "1; DELETE FROM scores"]) { nodes { score } } }`, 'GRAPHQL_VALIDATION_FAILED', /Enum "\w+OrderBy" cannot represent/);
  await refused('malformed', `{ scores { nodes { score }`, 'GRAPHQL_PARSE_FAILED', /Syntax Error/);

  // Writes smuggled into filter values are values: compared, never run.
  for (const value of [`0xaa'); DELETE FROM "${schema}".scores; --`, `x' OR 1=1; DROP TABLE "${schema}".scores; --`]) {
    const d = await data(schema, `query($v: String!) { scores(filter: { or: [{ account: { equalTo: $v } }, { account: { like: $v } }, { account: { in: [$v] } }] }) { totalCount } }`, { v: value });
    assert.equal(d.scores.totalCount, 0);
  }
  const numeric = await gql(schema, `{ scores(filter: { score: { equalTo: "1); DELETE FROM scores; --" } }) { totalCount } }`);
  assert.ok(numeric.errors?.length, `a number that is not one is an error: ${numeric.text}`);
  assert.doesNotMatch(numeric.text, /postgres:\/\//, 'no connection string in errors');

  // No bookkeeping table or function of the schema appears anywhere in the API.
  const types = await data(schema, `{ __schema { types { name } queryType { fields { name } } } }`);
  const names = [...types.__schema.types.map((x: { name: string }) => x.name), ...types.__schema.queryType.fields.map((x: { name: string }) => x.name)].join(' ');
  assert.doesNotMatch(names, /UndoLog|undoLog|undoReplay|undoCapture|Checkpoint\b|Stage|Reorg|Spec\b|Verification|FactoryChild|StreamOutbox|Range\b/, names);
  assert.equal(types.__schema.types.some((x: { name: string }) => x.name === 'Mutation'), false, 'no Mutation type');

  assert.equal(await digest(schema), before, 'nothing was written');
});

test('the schema is read again when a table changes: a new derived table and a new column appear without a restart', { timeout: 120_000 }, async () => {
  assert.ok(paging);
  const schema = paging.ix.name;
  await t.stack.db.query(`CREATE TABLE "${schema}".positions (owner text PRIMARY KEY, size numeric(78,0) NOT NULL, opened timestamptz NOT NULL DEFAULT now(), extra jsonb)`);
  // A handler may write a bigint into jsonb: a JSON number no double holds.
  await t.stack.db.query(`INSERT INTO "${schema}".positions (owner, size, extra) VALUES ('0x01', ${2n ** 256n - 1n}, '{"big": ${2n ** 200n}, "list": [-${2n ** 70n}, 1.5, "7"]}')`);
  await eventually('positions in the API', async () => ((await gql(schema, `{ positions { nodes { owner size } } }`)).data ? true : undefined), 15_000, 200);
  const d = await data(schema, `{ positions { nodes { owner size opened } } position(owner: "0x01") { size } }`);
  assert.equal(d.positions.nodes[0].size, String(2n ** 256n - 1n));
  assert.equal(d.position.size, String(2n ** 256n - 1n));
  // Numbers inside jsonb reach the response text digit for digit.
  const extra = await gql(schema, `{ position(owner: "0x01") { extra } }`);
  assert.ok(extra.text.includes(`"extra":{"big":${2n ** 200n},"list":[-${2n ** 70n},1.5,"7"]}`), extra.text);
  await t.stack.db.query(`ALTER TABLE "${schema}".positions ADD COLUMN note text DEFAULT 'hi'`);
  await eventually('the new column in the API', async () => ((await gql(schema, `{ positions { nodes { note } } }`)).data ? true : undefined), 15_000, 200);
  assert.equal((await data(schema, `{ positions { nodes { note } } }`)).positions.nodes[0].note, 'hi');
  // _meta answers from PostgreSQL alone: the indexer's workflow is gone, the figures stay.
  const meta = await data(schema, `{ _meta { chainId checkpoint handlersCheckpoint streamCheckpoint reorgs updatedAt } }`);
  const { rows } = await t.stack.db.query(`SELECT block_number FROM "${schema}"._checkpoints WHERE chain_id = $1`, [t.chain.chainId]);
  assert.deepStrictEqual(meta._meta.map((m: Row) => ({ ...m, updatedAt: typeof m.updatedAt })), [
    { chainId: t.chain.chainId, checkpoint: Number(rows[0].block_number), handlersCheckpoint: null, streamCheckpoint: null, reorgs: 0, updatedAt: 'string' },
  ]);
});
