import { BatchCancelled, handleBatch, type BatchResult, type HandlerFailure, type HandlersTarget, type NextBatch } from './batch';

/** A batch under way, and what the one after it waits for. */
interface Running {
  result: Promise<BatchResult | undefined>;
  /** Where the batch after it starts, once its events are read and it holds the cursor's lock (undefined: none). */
  next: Promise<NextBatch | undefined>;
  /** Its handlers have run. */
  handled: Promise<void>;
}

export interface BatchesResult {
  events: number;
  checkpoint: number;
  caughtUp: boolean;
  failure?: HandlerFailure;
}

/**
 * Batch after batch of `limit` events up to `toBlock`, until caught up, a handler fails, or
 * `budgetMs` has passed. Two batches are in flight, each on its own connection: the next reads
 * its events while this one's handlers run, and runs its handlers while this one writes and
 * commits, so the worker and PostgreSQL work at once instead of in turn. The next commits only
 * where this one did (handleBatch checks); after a failure it is rolled back.
 */
export async function handleBatches(target: HandlersTarget, toBlock: number, limit: number, budgetMs: number): Promise<BatchesResult> {
  const started = Date.now();
  let events = 0;
  let current = begin(target, toBlock, limit, undefined);
  for (;;) {
    const hint = await current.next;
    const following = hint && Date.now() - started <= budgetMs ? begin(target, toBlock, limit, hint, current) : undefined;
    let batch: BatchResult;
    try {
      batch = (await current.result)!; // a batch is cancelled only when the one before failed, and then the loop has ended
    } catch (error) {
      await stop(following);
      throw error;
    }
    events += batch.events;
    if (batch.failure) await stop(following);
    if (batch.failure || batch.caughtUp || !following) return { events, checkpoint: batch.checkpoint, caughtUp: batch.caughtUp, failure: batch.failure };
    current = following;
  }
}

/** Starts a batch; `before`: the batch still running before it, whose handlers run first. Resolves undefined when cancelled. */
function begin(target: HandlersTarget, toBlock: number, limit: number, next: NextBatch | undefined, before?: Running): Running {
  let tellNext!: (next: NextBatch | undefined) => void;
  let ranHandlers!: () => void;
  const nextKnown = new Promise<NextBatch | undefined>((resolve) => (tellNext = resolve));
  const handled = new Promise<void>((resolve) => (ranHandlers = resolve));
  const result = handleBatch(target, toBlock, limit, next, { onNext: tellNext, after: before?.handled, onHandled: ranHandlers, before: before?.result }).catch((error: unknown) => {
    if (error instanceof BatchCancelled) return undefined;
    throw error;
  });
  result.catch(() => undefined); // awaited by the loop, which may still be waiting for the batch before
  return { result, next: nextKnown, handled };
}

/** The batch begun beside one that failed: it finds its events were not its own, and gives up. */
async function stop(running: Running | undefined): Promise<void> {
  await running?.result.catch(() => undefined);
}
