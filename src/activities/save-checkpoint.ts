import { writeCheckpoint } from '../db/checkpoint';
import type { ActivityEnv } from './env';
import type { SaveCheckpointInput } from './types';

/** Stores the workflow's contiguous watermark, so a new run resumes where the data ends. */
export async function saveCheckpoint(env: ActivityEnv, { name, chainId, block, mode, head }: SaveCheckpointInput): Promise<void> {
  await writeCheckpoint(env.pool, name, chainId, block, { mode, head });
  env.metrics.checkpoint({ name, chainId }, block);
}
