import { recordVerification as insertVerification } from '../db/verify';
import type { ActivityEnv } from './env';
import type { RecordVerificationInput } from './types';

/** A verification run's outcome, into `_verifications`. */
export async function recordVerification(env: ActivityEnv, { spec, ...record }: RecordVerificationInput): Promise<void> {
  await insertVerification(env.pool, { schema: spec.name, chainId: spec.chainId, ...record });
}
