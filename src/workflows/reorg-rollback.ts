import { proxyActivities } from '@temporalio/workflow';
import type { IndexerActivities } from '../activities';
import { activityOptions } from './support/activity-options';
import type { SpecOrRef } from '../spec';

export interface ReorgRollbackInput {
  /** The spec, or (from runs of this version) its reference. */
  spec: SpecOrRef;
  /** The block whose stored hash is no longer canonical (reorg), or the checkpoint (reset). */
  detectedBlock: number;
  reason: 'reorg' | 'reset';
  /** reset: the block to roll back to. */
  toBlock?: number;
}

export interface ReorgRollbackResult {
  ancestor: number;
  depth: number;
  rowsDeleted: number;
  oldHash: string | null;
  newHash: string | null;
}

// Rollbacks retry until they succeed: the indexer cannot go on with data above a fork.
const { findCommonAncestor, rollbackTo } = proxyActivities<IndexerActivities>(activityOptions('2 minutes'));

/**
 * Rolls an indexer × chain back to the common ancestor of its stored chain and the canonical one
 * (or to the block a reset names): everything above it goes in one transaction, and the reorg is
 * recorded. A child of the indexer workflow, so each rollback shows in the Web UI on its own.
 */
export async function reorgRollbackWorkflow(input: ReorgRollbackInput): Promise<ReorgRollbackResult> {
  const found =
    input.reason === 'reset'
      ? { ancestor: input.toBlock!, depth: Math.max(0, input.detectedBlock - input.toBlock!), oldHash: null, newHash: null }
      : await findCommonAncestor({ spec: input.spec, detectedBlock: input.detectedBlock });
  const { rowsDeleted } = await rollbackTo({ spec: input.spec, ...found, detectedBlock: input.detectedBlock, reason: input.reason });
  return { ...found, rowsDeleted };
}
