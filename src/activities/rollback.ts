import { storedHashes } from '../db/blocks';
import { ReorgTooDeepError } from '../errors';
import type { Pool } from '../db/pool';
import type { ChainRpc } from '../rpc/client';
import type { IndexerSpec } from '../spec';
import type { FindCommonAncestorResult } from './types';

/**
 * Walks back from the detected block comparing stored hashes with canonical ones. The highest
 * block whose stored hash is still canonical is the common ancestor: the hash chain vouches for
 * everything below it. Past maxReorgDepth (or past stored history) it refuses: deleting more
 * than that on a guess is not safe, keeping wrong data is not either, so a person decides.
 */
export async function findCommonAncestor(deps: { pool: Pool; rpc: ChainRpc }, spec: IndexerSpec, detectedBlock: number): Promise<FindCommonAncestorResult> {
  const { pool } = deps;
  // Canonical hashes from the tip endpoint only: a lagging endpoint may still be on the old fork,
  // and asking it would roll back too little (and a second rollback would follow).
  const rpc = deps.rpc.pinnedTo((await deps.rpc.probeHeads()).tip);
  const startBlock = Math.min(...spec.contracts.map((c) => c.startBlock));
  const lowest = detectedBlock - spec.tuning.maxReorgDepth;
  const stored = await storedHashes(pool, spec.name, spec.chainId, Math.max(lowest, startBlock), detectedBlock);
  const atDetected = stored.find((s) => s.number === detectedBlock)?.hash ?? null;
  let canonicalAtDetected: string | null = null;
  for (const candidate of stored) {
    const canonical = (await rpc.getBlockHeader(candidate.number)).hash;
    if (candidate.number === detectedBlock) canonicalAtDetected = canonical;
    if (canonical === candidate.hash) {
      return { ancestor: candidate.number, depth: detectedBlock - candidate.number, oldHash: atDetected, newHash: canonicalAtDetected };
    }
  }
  // Every stored hash down to the indexer's first block differs: nothing below it is stored.
  if (lowest < startBlock) {
    return { ancestor: startBlock - 1, depth: detectedBlock - startBlock + 1, oldHash: atDetected, newHash: canonicalAtDetected };
  }
  throw new ReorgTooDeepError(
    `chain ${spec.chainId} reorganised deeper than maxReorgDepth (${spec.tuning.maxReorgDepth}) below block ${detectedBlock}; stored data above the fork is wrong: run indexer reset ${spec.name} --to-block <a block before the fork> to re-index from there`,
  );
}
