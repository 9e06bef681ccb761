import { storedHashes } from '../db/blocks';
import { specStartBlock } from '../spec';
import { readCheckpoint } from '../db/checkpoint';
import { ReorgTooDeepError } from '../errors';
import type { ActivityEnv } from './env';
import type { FindCommonAncestorInput, FindCommonAncestorResult } from './types';

/**
 * Walks back from the detected block comparing stored hashes with canonical ones. The highest
 * block whose stored hash is still canonical is the common ancestor: the hash chain vouches for
 * everything below it. Past maxReorgDepth (or past stored history) it refuses: deleting more
 * than that on a guess is not safe, keeping wrong data is not either, so a person decides.
 */
export async function findCommonAncestor(env: ActivityEnv, { spec, detectedBlock }: FindCommonAncestorInput): Promise<FindCommonAncestorResult> {
  const { pool } = env;
  // Canonical hashes from the tip endpoint only: a lagging endpoint may still be on the old fork,
  // and asking it would roll back too little (and a second rollback would follow).
  const chain = env.rpcFor(spec);
  const rpc = chain.pinnedTo((await chain.probeHeads()).tip);
  const startBlock = specStartBlock(spec);
  const lowest = detectedBlock - spec.tuning.maxReorgDepth;
  const stored = await storedHashes(pool, spec.name, spec.chainId, Math.max(lowest, startBlock), detectedBlock);
  const atDetected = stored.find((s) => s.number === detectedBlock)?.hash ?? null;
  // The depth counts every stored block that left the chain: a chain that got shorter is detected
  // at its new head, below the stored data.
  const storedTip = Math.max(detectedBlock, (await readCheckpoint(pool, spec.name, spec.chainId)) ?? detectedBlock);
  let canonicalAtDetected: string | null = null;
  // The depth is what a rollback to `ancestor` deletes: more than maxReorgDepth is refused even
  // when the ancestor was found, as when a shorter chain is detected below the stored tip.
  const within = (ancestor: number): FindCommonAncestorResult => {
    const depth = storedTip - ancestor;
    if (depth > spec.tuning.maxReorgDepth) {
      throw new ReorgTooDeepError(
        `chain ${spec.chainId} reorganised ${depth} blocks deep, deeper than maxReorgDepth (${spec.tuning.maxReorgDepth}): stored blocks ${ancestor + 1}-${storedTip} left the chain: run indexer reset ${spec.name} --to-block ${ancestor} to re-index from there`,
      );
    }
    return { ancestor, depth, oldHash: atDetected, newHash: canonicalAtDetected };
  };
  for (const candidate of stored) {
    const canonical = (await rpc.getBlockHeader(candidate.number)).hash;
    if (candidate.number === detectedBlock) canonicalAtDetected = canonical;
    if (canonical === candidate.hash) return within(candidate.number);
  }
  // Every stored hash down to the indexer's first block differs: nothing below it is stored.
  if (lowest < startBlock) return within(startBlock - 1);
  throw new ReorgTooDeepError(
    `chain ${spec.chainId} reorganised deeper than maxReorgDepth (${spec.tuning.maxReorgDepth}) below block ${detectedBlock}; stored data above the fork is wrong: run indexer reset ${spec.name} --to-block <a block before the fork> to re-index from there`,
  );
}
