import { createHash } from 'node:crypto';
import { storedHashes } from '../db/blocks';
import { repairRange } from '../db/repair';
import { storedCanonicalRows } from '../db/verify';
import { stageRuntimes } from '../stages/runtimes';
import { fillBlockFields } from '../indexing/block-fields';
import { canonicalRow } from '../indexing/canonical';
import type { ActivityEnv } from './env';
import { fetchRange } from './index-range';
import type { VerifyRangeInput, VerifyRangeResult } from './types';

function digest(rows: string[]): string {
  const hash = createHash('sha256');
  for (const row of [...rows].sort()) hash.update(row).update('\n');
  return hash.digest('hex').slice(0, 16);
}

/**
 * Compares one chunk of stored data with the chain: every row (count and a digest of all columns)
 * and every stored block hash. A mismatching chunk is re-indexed in one transaction, every stage
 * that went past it told in the same transaction, unless a rollback moved the checkpoint below it
 * meanwhile (then it is skipped: the chain is moving there).
 */
export async function verifyRange(env: ActivityEnv, input: VerifyRangeInput): Promise<VerifyRangeResult> {
  const result = await compareChunk(env, input);
  if (result.mismatch) {
    env.metrics.verificationMismatch(input.spec);
    env.log().warn({ fromBlock: result.fromBlock, toBlock: result.toBlock, problems: result.problems, repaired: result.repaired }, 'verification mismatch');
  }
  return result;
}

async function compareChunk(env: ActivityEnv, input: VerifyRangeInput): Promise<VerifyRangeResult> {
  const { spec, fromBlock, toBlock } = input;
  const { pool } = env;
  // Read from another endpoint than the best-ranked one (the one ingesting), where there is one.
  const rpc = env.rpcFor(spec).preferringSecond();
  const router = await env.rangeRouter(spec, toBlock);
  const fetched = await fetchRange(rpc, router, fromBlock, toBlock);
  await fillBlockFields(rpc, fetched.logs, router.tables);
  const byTable = new Map(router.tables.map((t) => [t.table, t]));
  const chainRows = fetched.logs.map((l) => canonicalRow(byTable.get(l.table)!, l, l.args));
  const dbRows = await storedCanonicalRows(pool, spec.name, spec.chainId, router.tables, fromBlock, toBlock);

  const problems: string[] = [];
  const chainDigest = digest(chainRows);
  const storedDigest = digest(dbRows);
  if (chainRows.length !== dbRows.length) problems.push(`${dbRows.length} rows stored, the chain has ${chainRows.length}`);
  else if (chainDigest !== storedDigest) problems.push(`row contents differ (digest ${storedDigest} stored, ${chainDigest} on chain)`);

  // Stored block hashes: against the logs' own hashes where the block has logs, else the header.
  const canonical: Array<{ number: number; hash: string }> = [];
  for (const stored of await storedHashes(pool, spec.name, spec.chainId, fromBlock, toBlock)) {
    const hash = fetched.blocks.get(stored.number) ?? (await rpc.getBlockHeader(stored.number)).hash;
    canonical.push({ number: stored.number, hash });
    if (hash !== stored.hash) problems.push(`stored hash of block ${stored.number} is not canonical`);
  }

  const base = { fromBlock, toBlock, rowsOnChain: chainRows.length, rowsStored: dbRows.length, problems: problems.slice(0, 5) };
  if (problems.length === 0 || !input.repair) return { ...base, mismatch: problems.length > 0, repaired: false, skipped: false };

  const blocks = new Map(canonical.map((b) => [b.number, b]));
  for (const [number, hash] of fetched.blocks) blocks.set(number, { number, hash });
  const write = { schema: spec.name, chainId: spec.chainId, tables: env.routerFor(spec).tables, fromBlock, toBlock, logs: fetched.logs, blocks: [...blocks.values()] };
  // Every stage that went past the chunk is told in the repair's transaction (stages/runtime.ts, `repair`).
  const repaired = await repairRange(pool, write, stageRuntimes.map((stage) => ({ name: stage.name, repair: stage.repair })));
  if (repaired.skipped) return { ...base, mismatch: true, repaired: false, skipped: true };
  env.metrics.repair(spec, repaired);
  const { added, removed, changed, stages } = repaired;
  return { ...base, mismatch: true, repaired: true, skipped: false, repair: { fromBlock: repaired.fromBlock, added, removed, changed, stages } };
}
