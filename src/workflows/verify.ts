import { getExternalWorkflowHandle, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { repairedSignal, type VerifyResult } from './messages';
import type { IndexerActivities } from '../activities';
import { activityOptions } from './support/activity-options';
import type { SpecOrRef } from '../spec';

export interface VerifyInput {
  /** The spec, or (from runs of this version) its reference. */
  spec: SpecOrRef;
  /** Blocks [fromBlock, toBlock] are checked, newest chunk first. */
  fromBlock: number;
  toBlock: number;
  chunkSize: number;
  /** Stop after this many chunks (the run's RPC budget); unlimited when unset. */
  maxChunks?: number;
}

const { verifyRange, recordVerification } = proxyActivities<IndexerActivities>(activityOptions('10 minutes', 10));

/**
 * Compares stored data with the chain chunk by chunk, newest first, and re-indexes what differs.
 * A child of the indexer workflow (scheduled, or `indexer verify`); each run is recorded.
 */
export async function verifyWorkflow(input: VerifyInput): Promise<VerifyResult> {
  const started = Date.now();
  const result: VerifyResult = {
    startedAt: new Date(started).toISOString(),
    fromBlock: input.toBlock + 1,
    toBlock: input.toBlock,
    chunks: 0,
    mismatches: 0,
    repaired: 0,
    added: 0,
    removed: 0,
    changed: 0,
    unrepaired: 0,
    skipped: 0,
    durationMs: 0,
    problems: [],
  };
  for (let to = input.toBlock; to >= input.fromBlock; to -= input.chunkSize) {
    if (input.maxChunks !== undefined && result.chunks >= input.maxChunks) break;
    const from = Math.max(input.fromBlock, to - input.chunkSize + 1);
    const chunk = await verifyRange({ spec: input.spec, fromBlock: from, toBlock: to, repair: true });
    result.chunks += 1;
    result.fromBlock = from;
    if (!chunk.mismatch) continue;
    if (chunk.skipped) {
      result.skipped += 1;
      continue;
    }
    result.mismatches += 1;
    result.problems.push(...chunk.problems.map((p) => `${from}-${to}: ${p}`));
    if (chunk.repair) {
      result.added += chunk.repair.added;
      result.removed += chunk.repair.removed;
      result.changed += chunk.repair.changed;
      // The stages the repair rewound are told at once: the indexer's view of them moves back now,
      // not when the run ends (runs of versions before this one did not say).
      const parent = workflowInfo().parent;
      if (parent && Object.keys(chunk.repair.stages).length > 0 && patched('repairs-reach-stages')) {
        await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(repairedSignal, chunk.repair);
      }
    }
    // Trust, but check the repair: the chunk must now equal the chain.
    const again = await verifyRange({ spec: input.spec, fromBlock: from, toBlock: to, repair: false });
    if (again.mismatch) result.unrepaired += 1;
    else result.repaired += 1;
  }
  result.problems = result.problems.slice(0, 20);
  result.durationMs = Date.now() - started;
  await recordVerification({
    spec: input.spec,
    startedAt: result.startedAt,
    fromBlock: result.fromBlock,
    toBlock: result.toBlock,
    chunks: result.chunks,
    mismatches: result.mismatches,
    repaired: result.repaired,
    added: result.added,
    removed: result.removed,
    changed: result.changed,
    details: { unrepaired: result.unrepaired, skipped: result.skipped, problems: result.problems },
  });
  return result;
}
