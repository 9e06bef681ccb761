import { RateWindow } from './rate-window';

/**
 * What every downstream stage (handlers, stream) has in common as the workflow sees it: where it
 * stands, whether a failure stopped it, how a rollback or an activity's summary moves it. Pure;
 * each stage adds its own counts and decisions.
 */
export abstract class StageState {
  /** The last block whose events the stage has all done. */
  checkpoint: number;
  /** Stopped by a failure retrying cannot fix, until `resume`. */
  paused: boolean;
  lastError: string | null;
  /** The loop is asked to end (stop, continueAsNew, done) once the activity in flight is back. */
  stopping = false;
  /** Bumped by every rollback, so a summary from before one cannot move the checkpoint above the ancestor. */
  epoch = 0;
  /** The bound the last activity was given when it found nothing more: don't ask again until it moves. */
  protected exhaustedAt: number | null = null;
  protected readonly rates = new RateWindow<'events'>();

  constructor(carried: { checkpoint: number; paused: boolean; lastError: string | null }) {
    this.checkpoint = carried.checkpoint;
    this.paused = carried.paused;
    this.lastError = carried.lastError;
  }

  /** What every activity summary changes: the rate, the checkpoint, and whether the bound is exhausted. */
  protected advance(result: { checkpoint: number; caughtUp: boolean }, events: number, epoch: number, upTo: number, now: number): void {
    this.rates.record(now, { events });
    this.checkpoint = epoch === this.epoch ? result.checkpoint : Math.min(result.checkpoint, this.checkpoint);
    this.exhaustedAt = result.caughtUp && result.checkpoint < upTo ? upTo : null;
  }

  /** The stage could not run (its activity's retries spent): shown, and paused when retrying cannot help. */
  recordFailure(message: string, fatal: boolean): void {
    this.lastError = message;
    if (fatal) this.paused = true;
  }

  /** A rollback moved the stage's cursor down to `ancestor` in the database. */
  rewound(ancestor: number): void {
    this.epoch += 1;
    this.checkpoint = Math.min(this.checkpoint, ancestor);
    this.exhaustedAt = null;
  }
}
