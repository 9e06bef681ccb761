import { recordHead } from '../db/checkpoint';
import type { ActivityEnv } from './env';
import type { GetHeadInput, GetHeadResult } from './types';

/** The chain's head and safe head (head − confirmations), for the backfill's target. */
export async function getHead(env: ActivityEnv, { spec }: GetHeadInput): Promise<GetHeadResult> {
  const rpc = env.rpcFor(spec);
  const head = await rpc.getBlockNumber();
  env.metrics.head(spec, head);
  await recordHead(env.pool, spec.name, spec.chainId, head);
  return { head, safeHead: Math.max(-1, head - spec.tuning.confirmations), rpc: rpc.health(), notice: rpc.notice() };
}
