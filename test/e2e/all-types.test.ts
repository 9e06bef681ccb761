import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { toEventSelector, type Address } from 'viem';
import { startTestChain, type TestChain } from '../helpers/chain';
import { specsFrom, startIndexer, status, waitForCheckpoint } from '../helpers/indexer';
import { assertMatchesChain, type TableExpectation } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { startStack, uniqueName, type TestStack } from '../helpers/stack';
import { eventually, startInProcessWorker, type RunningWorker } from '../helpers/workers';

let stack: TestStack;
let chain: TestChain;
let worker: RunningWorker | undefined;

before(async () => {
  [stack, chain] = await Promise.all([startStack(), startTestChain()]);
});

after(async () => {
  await worker?.stop();
  await chain?.stop();
  await stack?.stop();
});

const artifact = compileFixture('AllTypes');
const transferWithData = toEventSelector('Transfer(address,address,uint256,bytes)').slice(2, 10);

// Names written out by hand: they are the contract (DESIGN.md, "Tables").
const TABLES: TableExpectation[] = [
  { signature: 'Ints(uint8,uint256,int8,int256,int64,uint128,uint24)', table: 'all_types_ints', columns: ['small', 'big', 'tiny', 'signed_big', 'neg', 'mid', 'odd'] },
  {
    signature: 'Basics(address,bool,string,bytes,bytes32,bytes1,bytes16)',
    table: 'all_types_basics',
    columns: ['from_address', 'flag', 'text', 'blob', 'word', 'one', 'half'],
  },
  {
    signature: 'Arrays(uint256[],address[2],bytes32[],string[],int16[][],bool[3])',
    table: 'all_types_arrays',
    columns: ['nums', 'pair', 'words', 'texts', 'nested', 'flags'],
  },
  {
    signature: 'Tuples((int64,(uint8,address,bytes),string[],bytes32),(uint8,address,bytes)[],uint256)',
    table: 'all_types_tuples',
    columns: ['outer', 'inners', 'token_id'],
  },
  { signature: 'IndexedDynamic(string,bytes,uint256[],uint256)', table: 'all_types_indexed_dynamic', columns: ['label', 'data', 'ids', 'value'] },
  { signature: 'IndexedTuple((uint8,address,bytes),int256,bool)', table: 'all_types_indexed_tuple', columns: ['inner', 'signed_topic', 'flag_topic'] },
  { signature: 'Transfer(address,address,uint256)', table: 'all_types_transfer_ddf252ad', columns: ['from', 'to', 'value'] },
  { signature: 'Transfer(address,address,uint256,bytes)', table: `all_types_transfer_${transferWithData}`, columns: ['from', 'to', 'value', 'data'] },
  { signature: 'Collide(uint256,uint256,uint256,address)', table: 'all_types_collide', columns: ['arg_block_number', 'arg_tx_hash', 'arg2', 'arg_log_index'] },
];

test('every ABI type lands in PostgreSQL exactly as the chain has it, in backfill and in realtime', { timeout: 240_000 }, async () => {
  const address: Address = await chain.deploy(artifact.abi, artifact.bytecode);
  for (let seed = 1n; seed <= 6n; seed++) await chain.send(address, artifact.abi, 'emitAll', [seed]);
  await chain.mine(3);

  const name = uniqueName('all types');
  const [spec] = specsFrom({
    name,
    chains: { local: { id: chain.chainId, maxBlockRange: 3, maxInFlight: 3, pollIntervalMs: 200 } },
    contracts: [{ name: 'AllTypes', chain: 'local', address, abi: artifact.abi }],
  });
  assert.ok(spec);
  worker = await startInProcessWorker(stack, { taskQueue: name, rpc: { [chain.chainId]: [chain.url] } });
  await startIndexer(stack.client, spec, name);

  const head = await chain.publicClient.getBlockNumber();
  await waitForCheckpoint(stack.client, spec, head);
  const backfilled = await assertMatchesChain(stack.db, chain.publicClient, { schema: name, abi: artifact.abi, address, chainId: chain.chainId, toBlock: head, tables: TABLES });
  assert.equal(backfilled.rows, 6 * 9, 'six emitAll calls, nine selected events each (the anonymous one skipped)');

  // Types as DESIGN.md maps them.
  const { rows: columns } = await stack.db.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, format_type(atttypid, atttypmod) AS data_type
       FROM information_schema.columns c JOIN pg_attribute a ON a.attname = c.column_name
       JOIN pg_class k ON k.oid = a.attrelid AND k.relname = c.table_name
       JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = c.table_schema
      WHERE table_schema = $1 AND table_name = 'all_types_tuples' ORDER BY ordinal_position`,
    [name],
  );
  assert.deepStrictEqual(
    columns.map((c) => `${c.column_name} ${c.data_type}`),
    [
      'chain_id bigint',
      'block_number bigint',
      'block_hash text',
      'block_timestamp timestamp with time zone',
      'log_index integer',
      'tx_hash text',
      'tx_index integer',
      'address text',
      'outer jsonb',
      'inners jsonb',
      'token_id numeric(78,0)',
    ],
  );

  // Realtime: new events after the backfill caught up. The mode turns realtime at the head probe
  // after the last range (its checkpoint save and a getHead later), so it is waited for.
  await eventually('realtime after the backfill', async () => ((await status(stack.client, spec)).mode === 'realtime' ? true : undefined), 20_000, 50);
  for (let seed = 7n; seed <= 8n; seed++) await chain.send(address, artifact.abi, 'emitAll', [seed]);
  const newHead = await chain.publicClient.getBlockNumber();
  await waitForCheckpoint(stack.client, spec, newHead);
  const all = await assertMatchesChain(stack.db, chain.publicClient, { schema: name, abi: artifact.abi, address, chainId: chain.chainId, toBlock: newHead, tables: TABLES });
  assert.equal(all.rows, 8 * 9);
  const final = await status(stack.client, spec);
  assert.equal(final.logsIndexed, 72);
  assert.equal(final.lastError, null);
});
