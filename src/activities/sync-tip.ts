import { Context } from '@temporalio/activity';
import { storedHash } from '../db/blocks';
import { recordHead } from '../db/checkpoint';
import { RpcRequestError } from '../errors';
import { pruneBlockHashes } from '../db/rollback';
import type { Pool } from '../db/pool';
import { getHeaderChain, type ChainRpc, type HeadProbe } from '../rpc/client';
import { tipVerdict, type TipVerdict } from '../rpc/heads';
import { rpcDecision } from '../rpc/policy';
import { specEndBlock, type IndexerSpec } from '../spec';
import { childrenUpTo } from '../db/factory-children';
import { fillBlockFields } from '../indexing/block-fields';
import { intervalBlocks } from '../indexing/interval-blocks';
import type { FoundChild } from '../indexing/factories';
import type { ActivityEnv } from './env';
import { fetchRange } from './index-range';
import type { SyncTipInput, SyncTipResult } from './types';

/**
 * Polls the endpoints' heads every pollIntervalMs, inside the activity, until there is something
 * to do: a block above the checkpoint, a checkpoint block whose hash changed (a reorg at the same
 * height), a chain every endpoint says is shorter (by no more than maxReorgDepth), or `waitMs`
 * passed. Waiting here rather than on a workflow timer keeps realtime latency at about half the
 * poll interval and keeps idle polls out of workflow history. The head is the highest any endpoint
 * has: one that lags is not the chain.
 */
async function waitForNewHead(
  deps: { pool: Pool; rpc: ChainRpc },
  input: { spec: IndexerSpec; checkpoint: number; waitMs?: number },
): Promise<{ probe: HeadProbe; verdict: TipVerdict; unchanged?: boolean }> {
  const { spec, checkpoint } = input;
  const deadline = Date.now() + (input.waitMs ?? 0);
  const stored = checkpoint >= 0 ? await storedHash(deps.pool, spec.name, spec.chainId, checkpoint) : undefined;
  for (;;) {
    const probe = await deps.rpc.probeHeads({ hashes: true });
    const verdict = tipVerdict(probe, checkpoint, { maxReorgDepth: spec.tuning.maxReorgDepth, indexer: spec.name });
    if (verdict.kind === 'ahead' || verdict.kind === 'shorter') return { probe, verdict };
    // At the same height, the tip endpoint's latest block must still be the one stored.
    if (verdict.kind === 'same' && stored && probe.tipHash !== stored) return { probe, verdict };
    if (Date.now() >= deadline) return { probe, verdict, unchanged: verdict.kind === 'same' };
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
  await recordHead(env.pool, spec.name, spec.chainId, result.head);
  env.metrics.lag(spec, Math.max(0, result.head - Math.max(result.toBlock, input.checkpoint)));
  return { ...result, rpc: rpc.health(), notice: result.notice ?? rpc.notice() };
}

/**
 * Indexes the blocks after the checkpoint up to the head, keeping the hash chain. The stored hash
 * of the checkpoint block must still be canonical and every new block must extend it; otherwise
 * nothing is written and a reorg is reported for the workflow to roll back.
 */
async function indexTip(env: ActivityEnv, rpc: ChainRpc, input: SyncTipInput): Promise<SyncTipResult> {
  const started = Date.now();
  const deps = { pool: env.pool, rpc };
  const { spec, checkpoint } = input;
  const endBlock = specEndBlock(spec) ?? Infinity;
  const { probe, verdict, unchanged } = await waitForNewHead(deps, input);
  const head = probe.head;
  const safeHead = Math.max(-1, head - spec.tuning.confirmations);
  const toBlock = Math.min(head, checkpoint + input.maxBlocks, endBlock);
  const base = { head, safeHead, fromBlock: checkpoint + 1, toBlock: Math.max(checkpoint, toBlock), logs: 0, checkpointAdvanced: false };
  if (unchanged) return { ...base, durationMs: Date.now() - started };
  if (verdict.kind === 'wait') {
    // Some endpoint could not be asked and the others lag, or all are more than maxReorgDepth below
    // the checkpoint: never a rollback on that, only a wait.
    return { ...base, toBlock: checkpoint, durationMs: Date.now() - started, notice: verdict.message };
  }
  if (verdict.kind === 'shorter') {
    // Every endpoint says the chain is shorter than what we stored (a reorg onto a shorter fork,
    // evm_revert), by no more than maxReorgDepth: roll back from the head down; everything above
    // it is gone for sure.
    const canonical = await rpc.pinnedTo(probe.tip).getBlockHeader(head);
    return { ...base, toBlock: checkpoint, durationMs: Date.now() - started, reorg: { detectedBlock: head, storedHash: '', canonicalHash: canonical.hash } };
  }

  // One endpoint's view of the tip: the headers, and the logs checked against them, come from the
  // tip endpoint (logs a cross-check adds must match its headers' hashes). If it fails mid-way the
  // whole view is redone on the next endpoint that has the blocks, never mixed.
  const top = Math.max(checkpoint, toBlock);
  const order = [probe.tip, ...rpc.endpointsHaving(top).filter((i) => i !== probe.tip)];
  let failure: unknown;
  for (const endpoint of order) {
    try {
      return await syncView(env, rpc.pinnedTo(endpoint), input, { base, toBlock, started });
    } catch (error) {
      // An endpoint's failure (the policy's failOver) moves the view on; a range to split, a database error … do not.
      if (!rpcDecision(error).failOver) throw error;
      failure = error;
    }
  }
  throw failure;
}

async function syncView(
  env: ActivityEnv,
  rpc: ChainRpc,
  input: SyncTipInput,
  view: { base: Omit<SyncTipResult, 'durationMs'>; toBlock: number; started: number },
): Promise<SyncTipResult> {
  const { pool } = env;
  const { spec, checkpoint } = input;
  const { base, toBlock, started } = view;
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

  const byNumber = new Map(headers.map((h) => [h.number, h]));
  // Logs from another fork than the headers: the chain moved between requests; try again.
  const sameFork = (blocks: Map<number, string>) => {
    for (const [number, hash] of blocks) {
      if (byNumber.get(number)?.hash !== hash) {
        throw new RpcRequestError(`${rpc.label}: logs of block ${number} are from another fork than its header; the chain moved during the sync`);
      }
    }
  };
  // Children the factories create in these blocks count from their creation block on: their
  // events are asked for in the same view, and the children stored with the range.
  let router = env.routerFor(spec);
  let discovered: FoundChild[] = [];
  if (router.hasFactories) {
    const found = await fetchRange(rpc, env.factoriesFor(spec), checkpoint + 1, toBlock, { headers: byNumber });
    sameFork(found.blocks);
    discovered = found.logs;
    router = router.withChildren([...(await childrenUpTo(pool, spec.name, spec.chainId, checkpoint)), ...discovered]);
  }
  const fetched = await fetchRange(rpc, router, checkpoint + 1, toBlock, { headers: byNumber });
  sameFork(fetched.blocks);
  await fillBlockFields(rpc, fetched.logs, router.tables, headers);
  const interval = await intervalBlocks(rpc, spec, checkpoint + 1, toBlock, byNumber);
  const written = await env.storeRange(spec, {
    fromBlock: checkpoint + 1,
    toBlock,
    logs: fetched.logs,
    blocks: headers.map((h) => ({ number: h.number, hash: h.hash, parentHash: h.parentHash })),
    ...(interval ? { intervalBlocks: interval } : {}),
    advanceCheckpoint: true,
    ...(router.hasFactories ? { children: { found: discovered, discoveryStart: env.factoriesFor(spec).startBlock } } : {}),
  });
  // Hashes far below the head can no longer be reorganised; keep twice the deepest reorg we handle.
  await pruneBlockHashes(pool, spec.name, spec.chainId, toBlock - 2 * spec.tuning.maxReorgDepth - spec.tuning.confirmations);
  return { ...base, toBlock, logs: written.rows, checkpointAdvanced: written.checkpointAdvanced, durationMs: Date.now() - started };
}
