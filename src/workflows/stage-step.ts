import { condition } from '@temporalio/workflow';
import { type Backoff, describeFailure } from './failure';
import type { StageState } from './stage-state';

/**
 * One activity of a downstream stage: its summary applied on success; on failure (its retries
 * spent) shown in the stage's lastError, pausing the stage when retrying cannot help, else tried
 * again after the stage's backoff (cut short by a stop).
 */
export async function stageStep<R>(stage: StageState, backoff: Backoff, work: () => Promise<R>, apply: (result: R) => void): Promise<void> {
  try {
    apply(await work());
    backoff.reset();
  } catch (error) {
    const failure = describeFailure(error);
    stage.recordFailure(failure.message, failure.fatal);
    if (!failure.fatal) await condition(() => stage.stopping, backoff.next());
  }
}
