import { condition } from '@temporalio/workflow';
import { Backoff } from './support/failure';
import type { IndexerState } from './indexer-state';

/**
 * Runs work until it succeeds: the workflow's layer of retries, above the activity's own. A
 * failure shows in lastError; a fatal one pauses the indexer until `resume`, a transient one is
 * tried again after a growing wait. New work waits while paused and is dropped (undefined) on stop
 * or reset; bookkeeping (saving the checkpoint) goes on whatever, and never pauses.
 */
export async function persistently<T>(state: IndexerState, work: () => Promise<T>, options: { bookkeeping?: boolean } = {}): Promise<T | undefined> {
  const backoff = new Backoff();
  for (;;) {
    if (!options.bookkeeping && state.stopRequested) return undefined;
    if (!options.bookkeeping && state.paused) {
      await condition(() => state.pauseEnds);
      if (state.pendingReset !== null) return undefined;
      continue;
    }
    try {
      return await work();
    } catch (error) {
      const failure = state.recordFailure(error, { mayPause: !options.bookkeeping });
      if (!failure.fatal || options.bookkeeping) await condition(() => !options.bookkeeping && state.stopRequested, backoff.next());
    }
  }
}
