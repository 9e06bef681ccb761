import { patched } from '@temporalio/workflow';
import type { IndexerContext } from './indexer-context';
import { persistently } from './persistently';
import { activities } from './activities';
import { WORK_ATTEMPTS, activityOptions } from './support/activity-options';

/** Runs recorded before the read API's indexes existed replay without them. */
const READ_INDEXES = 'read-indexes-after-backfill';

/**
 * Once the backfill is over (the indexer follows the head, or is done): the read API's indexes on
 * the event tables (db/read-indexes.ts), beside indexing, not in its way: built concurrently, while
 * the loop goes on. Once per indexer (carried across continueAsNew); continueAsNew waits for it.
 */
export function startReadIndexes(ctx: IndexerContext): void {
  const { state } = ctx;
  if (state.readIndexes !== 'wanted' || !patched(READ_INDEXES)) return;
  state.readIndexes = 'building';
  persistently(state, () =>
    activities.createReadIndexes.executeWithOptions({ ...activityOptions('1 hour', WORK_ATTEMPTS), summary: 'read API indexes' }, [{ spec: ctx.ref }]),
  ).then(
    (built) => void (state.readIndexes = built ? 'built' : 'wanted'),
    () => void (state.readIndexes = 'wanted'),
  );
}
