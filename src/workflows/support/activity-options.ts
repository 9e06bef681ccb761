import type { ActivityOptions, Duration } from '@temporalio/common';
import { NON_RETRYABLE_ERROR_TYPES } from '../../errors';

/**
 * Every activity heartbeats every couple of seconds while it runs (activities/keep-alive.ts), so
 * a worker that dies mid-activity is noticed within this and the activity retried on another
 * worker, instead of after its startToCloseTimeout (minutes). Generous enough that a busy event
 * loop on a loaded machine is not mistaken for a dead worker.
 */
const HEARTBEAT_TIMEOUT = '15 seconds';

/**
 * Attempts of one activity at the indexer's own work before the workflow hears of the failure
 * (1 s + 2 s + 4 s of backoff in between): enough for a worker crash or a database restart,
 * short enough that a longer outage shows in the status' lastError while the workflow keeps
 * trying (README, "Retries and limits").
 */
export const WORK_ATTEMPTS = 4;

/**
 * What every activity is scheduled with: the heartbeat timeout above, and retries with backoff
 * (1 s doubling to 30 s) that leave alone the errors retrying cannot fix. Without
 * `maximumAttempts` it retries until it succeeds or fails for good.
 */
export function activityOptions(startToCloseTimeout: Duration, maximumAttempts?: number): ActivityOptions {
  return {
    startToCloseTimeout,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      ...(maximumAttempts === undefined ? {} : { maximumAttempts }),
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    },
  };
}
