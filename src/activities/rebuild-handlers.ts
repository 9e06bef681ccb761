import { lockChainHistory } from '../db/locks';
import { inTransaction } from '../db/pool';
import { emptyDerivedState } from '../db/stages';
import { runSetup } from '../handlers/batch';
import type { ActivityEnv } from './env';
import type { RebuildHandlersInput, RebuildHandlersResult } from './types';

/**
 * `indexer rebuild`, in one transaction: derived tables emptied, the undo log cleared, every
 * chain's handlers back before their first event, setup run again. The stage then replays the
 * stored events (no RPC). Each chain's workflow asks; the first one does it for all
 * (`rebuildId` makes the others' requests no-ops).
 */
export async function rebuildHandlers(env: ActivityEnv, { spec, rebuildId }: RebuildHandlersInput): Promise<RebuildHandlersResult> {
  const tables = env.routerFor(spec).tables;
  const handlers = await env.handlersFor(spec);
  const startBlock = Math.min(...spec.contracts.map((c) => c.startBlock));
  const done = await inTransaction(env.pool, async (client) => {
    await lockChainHistory(client, spec.name, spec.chainId);
    const already = await emptyDerivedState(client, spec.name, spec.chainId, startBlock, tables.map((t) => t.table), { rebuildId });
    if (!already) await runSetup(client, { spec, tables, handlers });
    return already;
  });
  env.log().info({ rebuildId, alreadyDone: done }, 'handlers rebuilt from the start');
  return { checkpoint: startBlock - 1 };
}
