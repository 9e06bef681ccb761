import { handleBatches } from '../handlers/overlapped';
import type { ActivityEnv } from './env';
import type { HandleEventsInput, HandleEventsResult } from './types';

/** Events per transaction: thousands amortise the commit in backfill; near the head a batch holds what is new. */
const BATCH_EVENTS = 2_000;
/** One activity works through batches for about this long: a few history events per stretch, and a status that moves. */
const ACTIVITY_BUDGET_MS = 5_000;

/**
 * The handlers stage: stored events after its cursor, up to `toBlock` (never past the stored
 * ingest checkpoint), through the user's handlers, batch by batch, each batch and the cursor in
 * one transaction. A handler that throws ends the activity with the failure in its summary: the
 * workflow pauses the stage, ingest goes on.
 */
export async function handleEvents(env: ActivityEnv, { spec, toBlock, head }: HandleEventsInput): Promise<HandleEventsResult> {
  const started = Date.now();
  const target = { pool: env.handlersPool, spec, tables: env.routerFor(spec).tables, handlers: await env.handlersFor(spec), head };
  const { events, checkpoint, caughtUp, failure } = await handleBatches(target, toBlock, BATCH_EVENTS, ACTIVITY_BUDGET_MS);
  const durationMs = Date.now() - started;
  env.metrics.handled(spec, { events, durationMs, checkpoint });
  if (failure) env.log().warn({ ...failure }, 'handler failed; the handlers stage pauses');
  return { checkpoint, events, durationMs, caughtUp, failure };
}
