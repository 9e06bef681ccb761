import { proxyActivities } from '@temporalio/workflow';
import type { IndexerActivities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../errors';
import { HEARTBEAT_TIMEOUT } from './heartbeat';
import type { IndexerSpec } from '../spec';

export interface ReorgRollbackInput {
  spec: IndexerSpec;
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

const { findCommonAncestor, rollbackTo } = proxyActivities<IndexerActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
});

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
