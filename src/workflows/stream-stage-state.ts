import type { PublishEventsResult } from '../activities/types';
import type { StreamSpec } from '../spec';
import type { StreamStatus } from './messages';
import { RateWindow } from './rate-window';

/** What the stream stage carries from one run of the indexer workflow to the next. */
export interface StreamCarried {
  checkpoint: number;
  published: number;
  retracted: number;
  paused: boolean;
  lastError: string | null;
  retractionsPending: boolean;
}

/**
 * The stream stage as the workflow sees it: where it stands, what it may publish now, what an
 * activity's summary changes. Pure; the stage's loop (stream-stage.ts) runs the activities.
 */
export class StreamStage {
  checkpoint: number;
  published: number;
  retracted: number;
  /** A fault retrying cannot fix (the stream does not capture our subjects …): stopped until `resume`. */
  paused: boolean;
  lastError: string | null;
  /** A rollback recorded retractions in the outbox: publish them even with no new event to publish. */
  retractionsPending: boolean;
  /** The loop is asked to end (stop, continueAsNew, done) once the activity in flight is back. */
  stopping = false;
  /** Bumped by every rollback, so a summary from before one cannot move the checkpoint above the ancestor. */
  epoch = 0;
  /** The bound the last activity was given when it found nothing more: don't ask again until it moves. */
  private exhaustedAt: number | null = null;
  private readonly rates = new RateWindow<'events'>();

  constructor(
    readonly spec: StreamSpec,
    startCheckpoint: number,
    carried?: StreamCarried,
  ) {
    this.checkpoint = carried?.checkpoint ?? startCheckpoint;
    this.published = carried?.published ?? 0;
    this.retracted = carried?.retracted ?? 0;
    this.paused = carried?.paused ?? false;
    this.lastError = carried?.lastError ?? null;
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
    this.rates.record(now, { events: result.published });
    this.checkpoint = epoch === this.epoch ? result.checkpoint : Math.min(result.checkpoint, this.checkpoint);
    // A rollback since the activity started may have owed more retractions than it saw.
    if (epoch === this.epoch) this.retractionsPending = result.retractionsPending;
    this.exhaustedAt = result.caughtUp && result.checkpoint < upTo ? upTo : null;
    this.lastError = null;
  }

  /** The stage could not run (its activity's retries spent): shown, and paused when retrying cannot help. */
  recordFailure(message: string, fatal: boolean): void {
    this.lastError = message;
    if (fatal) this.paused = true;
  }

  /** A rollback moved the cursor down to `ancestor` and may have left retractions in the outbox. */
  rewound(ancestor: number): void {
    this.epoch += 1;
    this.checkpoint = Math.min(this.checkpoint, ancestor);
    this.retractionsPending = true;
    this.exhaustedAt = null;
  }

  /** Caught up with what it may publish (for "done": nothing owed, nothing left below the bound). */
  caughtUpWith(bound: number | null): boolean {
    return bound !== null && !this.retractionsPending && this.checkpoint >= bound;
  }

  status(bound: number | null, now: number): StreamStatus {
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
