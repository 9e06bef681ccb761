import { Context } from '@temporalio/activity';
import { storedHash } from '../db/blocks';
import { RpcRequestError } from '../errors';
import { pruneBlockHashes } from '../db/rollback';
import type { Pool } from '../db/pool';
import { getHeaderChain, type ChainRpc } from '../rpc/client';
import type { IndexerSpec } from '../spec';
import { fillBlockTimestamps } from '../indexing/block-fields';
import type { ActivityEnv } from './env';
import { fetchRange } from './index-range';
import type { SyncTipInput, SyncTipResult } from './types';

/**
 * Polls the head every pollIntervalMs, inside the activity, until there is something to do: a
 * block above the checkpoint, or a checkpoint block whose hash changed (a reorg at the same
 * height), or `waitMs` passed. Waiting here rather than on a workflow timer keeps realtime latency
 * at about half the poll interval and keeps idle polls out of workflow history.
 */
async function waitForNewHead(deps: { pool: Pool; rpc: ChainRpc }, input: { spec: IndexerSpec; checkpoint: number; waitMs?: number }): Promise<number> {
  const { spec, checkpoint } = input;
  const deadline = Date.now() + (input.waitMs ?? 0);
  const stored = checkpoint >= 0 ? await storedHash(deps.pool, spec.name, spec.chainId, checkpoint) : undefined;
  for (;;) {
    const latest = await deps.rpc.getBlockHeader('latest');
    if (latest.number !== checkpoint || (stored && latest.hash !== stored) || Date.now() >= deadline) return latest.number;
    // The activity's own sleep ends early when the activity is cancelled (workflow stopped or gone).
    await Context.current().sleep(Math.min(spec.tuning.pollIntervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** Realtime: the tip step (below), with its metrics and the endpoints' health for the status. */
export async function syncTip(env: ActivityEnv, input: SyncTipInput): Promise<SyncTipResult> {
  const rpc = env.rpcFor(input.spec);
  const result = await indexTip(env, rpc, input);
  const { spec } = input;
  if (result.reorg) env.log().warn({ ...result.reorg }, 'reorg detected');
  else if (result.checkpointAdvanced) {
    env.metrics.range(spec, 'realtime', result);
    env.metrics.checkpoint(spec, result.toBlock);
  }
  env.metrics.head(spec, result.head);
  env.metrics.lag(spec, Math.max(0, result.head - Math.max(result.toBlock, input.checkpoint)));
  return { ...result, rpc: rpc.health() };
}

/**
 * Indexes the blocks after the checkpoint up to the head, keeping the hash chain. The stored hash
 * of the checkpoint block must still be canonical and every new block must extend it; otherwise
 * nothing is written and a reorg is reported for the workflow to roll back.
 */
async function indexTip(env: ActivityEnv, rpc: ChainRpc, input: SyncTipInput): Promise<SyncTipResult> {
  const started = Date.now();
  const { pool } = env;
  const router = env.routerFor(input.spec);
  const deps = { pool, rpc };
  const { spec, checkpoint } = input;
  const endBlock = spec.contracts.every((c) => c.endBlock !== undefined) ? Math.max(...spec.contracts.map((c) => c.endBlock!)) : Infinity;
  const head = await waitForNewHead(deps, input);
  const safeHead = Math.max(-1, head - spec.tuning.confirmations);
  const toBlock = Math.min(head, checkpoint + input.maxBlocks, endBlock);
  const base = { head, safeHead, fromBlock: checkpoint + 1, toBlock: Math.max(checkpoint, toBlock), logs: 0, checkpointAdvanced: false };
  if (head < checkpoint) {
    // The chain got shorter than what we stored (a reorg onto a shorter fork, evm_revert): roll
    // back from the head down; everything above it is gone for sure.
    const canonical = await rpc.getBlockHeader(head);
    return { ...base, toBlock: checkpoint, durationMs: Date.now() - started, reorg: { detectedBlock: head, storedHash: '', canonicalHash: canonical.hash } };
  }

  // The checkpoint block, then the new ones: one hash chain from what we stored to the head.
  const headers = checkpoint >= 0 ? await getHeaderChain(rpc, checkpoint, Math.max(checkpoint, toBlock)) : await getHeaderChain(rpc, 0, toBlock);
  if (checkpoint >= 0) {
    const stored = await storedHash(pool, spec.name, spec.chainId, checkpoint);
    const canonical = headers[0]!;
    if (stored && stored !== canonical.hash) {
      return { ...base, durationMs: Date.now() - started, reorg: { detectedBlock: checkpoint, storedHash: stored, canonicalHash: canonical.hash } };
    }
  }
  if (toBlock <= checkpoint) return { ...base, durationMs: Date.now() - started };

  const fetched = await fetchRange(rpc, router, checkpoint + 1, toBlock);
  await fillBlockTimestamps(rpc, fetched.logs, headers);
  const byNumber = new Map(headers.map((h) => [h.number, h]));
  for (const [number, hash] of fetched.blocks) {
    if (byNumber.get(number)?.hash !== hash) {
      // Logs from another fork than the headers: the chain moved between requests; try again.
      throw new RpcRequestError(`${rpc.label}: logs of block ${number} are from another fork than its header; the chain moved during the sync`);
    }
  }
  const written = await env.storeRange(spec, {
    fromBlock: checkpoint + 1,
    toBlock,
    logs: fetched.logs,
    blocks: headers.map((h) => ({ number: h.number, hash: h.hash, parentHash: h.parentHash })),
    advanceCheckpoint: true,
  });
  // Hashes far below the head can no longer be reorganised; keep twice the deepest reorg we handle.
  await pruneBlockHashes(pool, spec.name, spec.chainId, toBlock - 2 * spec.tuning.maxReorgDepth - spec.tuning.confirmations);
  return { ...base, toBlock, logs: written.rows, checkpointAdvanced: written.checkpointAdvanced, durationMs: Date.now() - started };
}
