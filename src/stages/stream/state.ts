import type { StreamSpec } from './config';
import { StageState, type IndexerView } from '../stage';
import type { PublishEventsResult, StreamCarried, StreamStatus } from './types';

/**
 * The stream stage as the workflow sees it: where it stands, what it may publish now, what an
 * activity's summary changes. Pure; the stage's loop (./workflow.ts) runs the activities.
 */
export class StreamStage extends StageState {
  published: number;
  retracted: number;
  /** A rollback recorded retractions in the outbox: publish them even with no new event to publish. */
  retractionsPending: boolean;

  constructor(
    readonly spec: StreamSpec,
    startCheckpoint: number,
    carried?: StreamCarried,
  ) {
    super({ checkpoint: carried?.checkpoint ?? startCheckpoint, paused: carried?.paused ?? false, lastError: carried?.lastError ?? null });
    this.published = carried?.published ?? 0;
    this.retracted = carried?.retracted ?? 0;
    this.retractionsPending = carried?.retractionsPending ?? false;
  }

  /**
   * How far the stage may publish now: the stored ingest checkpoint, and with `delivery: "safe"`
   * no further than the safe head (head − confirmations), so reorgs shallower than that never
   * reach the stream. null while either is unknown.
   */
  bound(storedCheckpoint: number | null, safeHead: number | null): number | null {
    if (storedCheckpoint === null) return null;
    if (this.spec.delivery === 'instant') return storedCheckpoint;
    return safeHead === null ? null : Math.min(storedCheckpoint, safeHead);
  }

  /** There are retractions owed, or events to publish up to the bound, and nothing holds the stage. */
  wantsWork(bound: number | null, ingestPaused: boolean): boolean {
    if (this.paused || ingestPaused || bound === null) return false;
    if (this.retractionsPending) return true;
    return this.exhaustedAt !== bound && this.checkpoint < bound;
  }

  /** An activity's summary; `epoch` is the one it was started in. */
  recordResult(result: PublishEventsResult, epoch: number, upTo: number, now: number): void {
    this.published += result.published;
    this.retracted += result.retracted;
    // A rollback since the activity started may have owed more retractions than it saw.
    if (epoch === this.epoch) this.retractionsPending = result.retractionsPending;
    this.advance(result, result.published, epoch, upTo, now);
    this.lastError = null;
  }

  /** A repair put retractions and publications (marked `repair`) in the outbox. */
  repaired(): void {
    this.retractionsPending = true;
  }

  /** A rollback moved the cursor down to `ancestor` and may have left retractions in the outbox. */
  override rewound(ancestor: number): void {
    super.rewound(ancestor);
    this.retractionsPending = true;
  }

  /** Caught up with what it may publish (for "done": nothing owed, nothing left below the bound). */
  caughtUpWith(bound: number | null): boolean {
    return bound !== null && !this.retractionsPending && this.checkpoint >= bound;
  }

  caughtUp(indexer: IndexerView): boolean {
    return this.caughtUpWith(this.bound(indexer.checkpoint, indexer.safeHead));
  }

  waitsFor(storedCheckpoint: number, indexer: IndexerView): boolean {
    return !this.paused && this.caughtUpWith(this.bound(storedCheckpoint, indexer.safeHead));
  }

  status(indexer: IndexerView, now: number): StreamStatus {
    const bound = this.bound(indexer.checkpoint, indexer.safeHead);
    return {
      checkpoint: this.checkpoint,
      lag: bound === null ? null : Math.max(0, bound - this.checkpoint),
      published: this.published,
      retracted: this.retracted,
      publishedPerSecond: this.rates.perSecond(now, 'events'),
      lastError: this.lastError,
      paused: this.paused,
      delivery: this.spec.delivery,
      stream: this.spec.stream,
      subject: this.spec.subject,
    };
  }

  carried(): StreamCarried {
    return {
      checkpoint: this.checkpoint,
      published: this.published,
      retracted: this.retracted,
      paused: this.paused,
      lastError: this.lastError,
      retractionsPending: this.retractionsPending,
    };
  }
}
