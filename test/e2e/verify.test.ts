import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Address } from 'viem';
import type { IndexerSpec } from '../../src/spec';
import { seedEmitter } from '../helpers/chain';
import { e2e } from '../helpers/fixture';
import { assertMatchesChain, EMITTER_TABLES } from '../helpers/oracle';
import { compileFixture } from '../helpers/solidity';
import { status } from '../helpers/indexer';
import { eventually, runCli } from '../helpers/workers';

const emitter = compileFixture('Emitter');
const TABLES = EMITTER_TABLES;

let address: Address;
let head: bigint;
const t = e2e({ setup: async ({ chain }) => ({ address, head } = await seedEmitter(chain, emitter, { txs: 30, logs: (salt) => 1n + (salt % 3n) })) });

/** An indexer of the chain, caught up, with its config file and CLI environment. */
async function indexed(title: string, verify?: { interval: string; maxChunksPerRun?: number }): Promise<{ name: string; spec: IndexerSpec; env: NodeJS.ProcessEnv }> {
  const ix = await t.indexer({
    title,
    config: (name) => ({
      name,
      chains: { local: { id: t.chain.chainId, maxBlockRange: 4, maxReorgDepth: 2, pollIntervalMs: 100 } },
      contracts: [{ name: 'Emitter', chain: 'local', address, abi: emitter.abi }],
      ...(verify ? { verify } : {}),
    }),
  });
  await ix.waitForCheckpoint(head);
  return { name: ix.name, spec: ix.spec, env: { TEMPORAL_ADDRESS: ix.env.TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE: ix.env.TEMPORAL_TASK_QUEUE } };
}

const equalsChain = (schema: string) =>
  assertMatchesChain(t.stack.db, t.chain.publicClient, { schema, abi: emitter.abi, address, chainId: t.chain.chainId, toBlock: head, tables: TABLES });

/** Every row's physical version, so "changes nothing" can be checked exactly. */
async function rowVersions(schema: string): Promise<string> {
  const rows = await t.stack.db.query(`SELECT xmin::text, ctid::text, block_number, log_index FROM "${schema}".emitter_transfer ORDER BY block_number, log_index`);
  const blocks = await t.stack.db.query(`SELECT xmin::text, ctid::text, block_number FROM "${schema}"._blocks ORDER BY block_number`);
  return JSON.stringify([rows.rows, blocks.rows]);
}

test('a clean database verifies with zero mismatches and changes nothing', { timeout: 180_000 }, async () => {
  const { name, env } = await indexed('verify clean');
  const before = await rowVersions(name);
  const run = await runCli(['verify', name], env);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /chunks checked, 0 mismatches, 0 repaired.*data equals the chain/);
  assert.equal(await rowVersions(name), before, 'no row was rewritten');
  const { rows } = await t.stack.db.query(`SELECT mismatches, repaired, chunks FROM "${name}"._verifications`);
  assert.equal(rows.length, 1, 'the run is recorded');
  assert.ok(rows[0].chunks > 1);
});

test('deleted rows, a changed column, a foreign row and an altered block hash are found and repaired', { timeout: 180_000 }, async () => {
  const { name, spec, env } = await indexed('verify tamper');
  const table = `"${name}".emitter_transfer`;
  await t.stack.db.query(`DELETE FROM ${table} WHERE block_number = 3`);
  await t.stack.db.query(`UPDATE ${table} SET value = value + 1 WHERE block_number = 10 AND log_index = 0`);
  await t.stack.db.query(
    `INSERT INTO ${table} (chain_id, block_number, block_hash, block_timestamp, log_index, tx_hash, tx_index, address, "from", "to", value)
     SELECT chain_id, block_number, block_hash, block_timestamp, 99, tx_hash, tx_index, address, "from", "to", 123 FROM ${table} WHERE block_number = 17 LIMIT 1`,
  );
  const { rows: hashed } = await t.stack.db.query(`SELECT max(block_number) AS b FROM "${name}"._blocks WHERE block_number < $1`, [String(head)]);
  const alteredBlock = Number(hashed[0].b);
  await t.stack.db.query(`UPDATE "${name}"._blocks SET block_hash = '0x${'ab'.repeat(32)}' WHERE block_number = $1`, [alteredBlock]);
  await assert.rejects(equalsChain(name), 'the tampering shows against the chain');

  const run = await runCli(['verify', name, '--json'], env);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout.trim().split('\n')[0]!);
  assert.equal(result.mismatches, 4, JSON.stringify(result.problems));
  assert.equal(result.repaired, 4);
  assert.equal(result.unrepaired, 0);

  await equalsChain(name);
  const { rows: stored } = await t.stack.db.query(`SELECT block_hash FROM "${name}"._blocks WHERE block_number = $1`, [alteredBlock]);
  const canonical = await t.chain.publicClient.getBlock({ blockNumber: BigInt(alteredBlock) });
  assert.equal(stored[0].block_hash, canonical.hash, 'the block hash is canonical again');
  const s = await status(t.stack.client, spec);
  assert.equal(s.lastVerification?.mismatches, 4);
  assert.equal(s.lastVerification?.repaired, 4);
});

test('indexer verify exits non-zero when a mismatch cannot be repaired', { timeout: 180_000 }, async () => {
  const { name, env } = await indexed('verify unrepairable');
  // A trigger that corrupts whatever is written: re-indexing cannot make this chunk right.
  await t.stack.db.query(`CREATE FUNCTION "${name}".corrupt() RETURNS trigger AS $$ BEGIN NEW.value := 0; RETURN NEW; END $$ LANGUAGE plpgsql`);
  await t.stack.db.query(`CREATE TRIGGER corrupt BEFORE INSERT ON "${name}".emitter_transfer FOR EACH ROW WHEN (NEW.block_number = 5) EXECUTE FUNCTION "${name}".corrupt()`);
  await t.stack.db.query(`UPDATE "${name}".emitter_transfer SET value = 0 WHERE block_number = 5`);
  const run = await runCli(['verify', name, '--from', '1', '--to', '8'], env);
  assert.equal(run.code, 2, run.stdout + run.stderr);
  assert.match(run.stdout, /could NOT be repaired/);
  assert.match(run.stderr, /^error: verification found 1 chunk\(s\) it could not repair\n$/);
});

test('the schedule fires on its own, shows as a child workflow, and repairs what it finds', { timeout: 180_000 }, async () => {
  const { name, spec } = await indexed('verify schedule', { interval: '2s' });
  await t.stack.db.query(`DELETE FROM "${name}".emitter_transfer WHERE block_number = 2`);
  const s = await eventually('a scheduled verification that repaired', async () => {
    const st = await status(t.stack.client, spec);
    return st.lastVerification && st.lastVerification.repaired > 0 ? st : undefined;
  }, 120_000, 500);
  assert.ok(s.lastVerification!.fromBlock <= 2);
  await equalsChain(name);
  const children: string[] = [];
  for await (const wf of t.stack.client.workflow.list({ query: `WorkflowType = 'verifyWorkflow'` })) children.push(wf.workflowId);
  assert.ok(children.some((id) => id.startsWith(`verify:${name}:${t.chain.chainId}:`)), `a verify child ran: ${children.join(', ')}`);
});
