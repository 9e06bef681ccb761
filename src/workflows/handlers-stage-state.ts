import type { HandleEventsResult } from '../activities/types';
import type { HandlersStatus } from './messages';
import { RateWindow } from './rate-window';

/** What the handlers stage carries from one run of the indexer workflow to the next. */
export interface HandlersCarried {
  checkpoint: number;
  eventsHandled: number;
  paused: boolean;
  lastError: string | null;
}

/**
 * The handlers stage as the workflow sees it: where it stands, whether it should run now, what an
 * activity's summary changes. Pure; the stage's loop (handlers-stage.ts) runs the activities.
 */
export class HandlersStage {
  checkpoint: number;
  eventsHandled: number;
  /** A handler failed: stopped until `resume` (ingest goes on). */
  paused: boolean;
  lastError: string | null;
  /** `indexer rebuild` asked for, and its outcome for the waiting update. */
  pendingRebuild: { rebuildId: string } | null = null;
  rebuildOutcome: { error?: string } | null = null;
  rebuilding = false;
  /** The loop is asked to end (stop, continueAsNew, done) once the activity in flight is back. */
  stopping = false;
  /** Bumped by every rollback, so a summary from before one cannot move the checkpoint above the ancestor. */
  epoch = 0;
  /** The bound the last activity was given when it found nothing more: don't ask again until it moves. */
  private exhaustedAt: number | null = null;
  private readonly rates = new RateWindow<'events'>();

  constructor(startCheckpoint: number, carried?: HandlersCarried) {
    this.checkpoint = carried?.checkpoint ?? startCheckpoint;
    this.eventsHandled = carried?.eventsHandled ?? 0;
    this.paused = carried?.paused ?? false;
    this.lastError = carried?.lastError ?? null;
  }

  /** There is something to handle up to the stored ingest checkpoint, and nothing holds the stage. */
  wantsWork(storedCheckpoint: number | null, ingestPaused: boolean): boolean {
    if (this.paused || storedCheckpoint === null || this.exhaustedAt === storedCheckpoint) return false;
    if (ingestPaused && !this.rebuilding) return false;
    return this.checkpoint < storedCheckpoint;
  }

  /** An activity's summary; `epoch` is the one it was started in. */
  recordResult(result: HandleEventsResult, epoch: number, upTo: number, now: number): void {
    this.eventsHandled += result.events;
    this.rates.record(now, { events: result.events });
    this.checkpoint = epoch === this.epoch ? result.checkpoint : Math.min(result.checkpoint, this.checkpoint);
    this.exhaustedAt = result.caughtUp && result.checkpoint < upTo ? upTo : null;
    if (result.failure) {
      const f = result.failure;
      this.lastError = `handler ${f.key} failed at block ${f.block} log ${f.logIndex}: ${f.message}`;
      this.paused = true;
    } else {
      this.lastError = null;
      if (result.caughtUp && this.checkpoint >= upTo) this.rebuilding = false;
    }
  }

  /** The stage could not run at all (its activity's retries spent): shown, and paused when fatal. */
  recordFailure(message: string, fatal: boolean): void {
    this.lastError = message;
    if (fatal) this.paused = true;
  }

  /** A rollback moved every stage's cursor down to `ancestor` in the database. */
  rewound(ancestor: number): void {
    this.epoch += 1;
    this.checkpoint = Math.min(this.checkpoint, ancestor);
    this.exhaustedAt = null;
  }

  /** `indexer rebuild` emptied derived state: the replay starts before the first event. */
  rebuilt(checkpoint: number): void {
    this.epoch += 1;
    this.checkpoint = checkpoint;
    this.eventsHandled = 0;
    this.paused = false;
    this.lastError = null;
    this.rebuilding = true;
    this.exhaustedAt = null;
  }

  status(ingestCheckpoint: number, now: number): HandlersStatus {
    return {
      checkpoint: this.checkpoint,
      lag: Math.max(0, ingestCheckpoint - this.checkpoint),
      eventsHandled: this.eventsHandled,
      eventsPerSecond: this.rates.perSecond(now, 'events'),
      lastError: this.lastError,
      paused: this.paused,
      rebuilding: this.rebuilding,
    };
  }

  carried(): HandlersCarried {
    return { checkpoint: this.checkpoint, eventsHandled: this.eventsHandled, paused: this.paused, lastError: this.lastError };
  }
}
