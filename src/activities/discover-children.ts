import { discoveredThrough, markDiscovered, recordChildren } from '../db/factory-children';
import { inTransaction } from '../db/pool';
import type { ActivityEnv } from './env';
import { fetchRange } from './index-range';
import type { DiscoverChildrenInput, DiscoverChildrenResult } from './types';

/** Discovery works through chunks for about this long per activity. */
const ACTIVITY_BUDGET_MS = 10_000;
/** Factory events are sparse: chunks larger than a backfill range, split when a provider refuses. */
const CHUNK_RANGES = 10;

/**
 * Reads the factories' events over [fromBlock, toBlock] (below the safe head) and records the
 * children they name, chunk by chunk, each chunk's children and the discovery cursor in one
 * transaction. The backfill of children's events never runs ahead of this cursor, so a range is
 * never indexed before the children it needs are known.
 */
export async function discoverChildren(env: ActivityEnv, { spec, fromBlock, toBlock }: DiscoverChildrenInput): Promise<DiscoverChildrenResult> {
  const started = Date.now();
  const rpc = env.rpcFor(spec);
  const watcher = env.factoriesFor(spec);
  let through = fromBlock - 1;
  let children = 0;
  while (through < toBlock && Date.now() - started < ACTIVITY_BUDGET_MS) {
    const from = through + 1;
    const to = Math.min(toBlock, from + spec.tuning.maxBlockRange * CHUNK_RANGES - 1);
    const found = await fetchRange(rpc, watcher, from, to);
    await inTransaction(env.pool, async (client) => {
      // Another run may have gone further meanwhile; the cursor only moves forward.
      if ((await discoveredThrough(client, spec.name, spec.chainId, watcher.startBlock)) >= to) return;
      await recordChildren(client, spec.name, spec.chainId, found.logs);
      await markDiscovered(client, spec.name, spec.chainId, watcher.startBlock, to);
    });
    children += found.logs.length;
    through = to;
  }
  if (children > 0) env.log().info({ fromBlock, through, children }, 'factory children discovered');
  return { through, children, rpc: rpc.health() };
}
