import { StageState, type IndexerView } from '../stage';
import type { HandlersRepair } from './derived-state';
import type { HandleEventsResult, HandlersCarried, HandlersStatus } from './types';

/**
 * The handlers stage as the workflow sees it: where it stands, whether it should run now, what an
 * activity's summary changes. Pure; the stage's loop (./workflow.ts) runs the activities.
 */
export class HandlersStage extends StageState {
  eventsHandled: number;
  /** `indexer rebuild` asked for, and its outcome for the waiting update. */
  pendingRebuild: { rebuildId: string } | null = null;
  rebuildOutcome: { error?: string } | null = null;
  rebuilding = false;
  /** A repair (verification) made the stage handle events again, until it has caught up. */
  repairing: { fromBlock: number; via: 'undo' | 'rebuild' } | null = null;

  constructor(startCheckpoint: number, carried?: HandlersCarried) {
    super({ checkpoint: carried?.checkpoint ?? startCheckpoint, paused: carried?.paused ?? false, lastError: carried?.lastError ?? null });
    this.eventsHandled = carried?.eventsHandled ?? 0;
    this.repairing = carried?.repairing ?? null;
    this.rebuilding = carried?.rebuilding ?? false;
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
    this.advance(result, result.events, epoch, upTo, now);
    if (result.failure) {
      const f = result.failure;
      this.lastError = `handler ${f.key} failed at block ${f.block} log ${f.logIndex}: ${f.message}`;
      this.paused = true;
    } else {
      this.lastError = null;
      if (result.caughtUp && this.checkpoint >= upTo) {
        this.rebuilding = false;
        this.repairing = null;
      }
    }
  }

  /**
   * A repair changed events the handlers had handled: the repair's transaction undid their changes
   * from the first repaired block on (or, beyond the undo log, emptied derived state for a rebuild)
   * and moved the cursor: the stage replays from there.
   */
  repaired(summary: object): void {
    const { replayFrom, via, fromBlock } = summary as HandlersRepair;
    this.rewound(replayFrom);
    this.repairing = { fromBlock, via };
    if (via === 'rebuild') this.rebuilding = true;
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

  /** Why `indexer rebuild` cannot start now, or undefined when it can. */
  rebuildRefusal(): string | undefined {
    return this.pendingRebuild ? 'a rebuild is already in progress' : undefined;
  }

  caughtUp(indexer: IndexerView): boolean {
    return this.checkpoint >= indexer.checkpoint;
  }

  waitsFor(storedCheckpoint: number): boolean {
    return !this.paused && this.checkpoint >= storedCheckpoint;
  }

  status(indexer: IndexerView, now: number): HandlersStatus {
    return {
      checkpoint: this.checkpoint,
      lag: Math.max(0, indexer.checkpoint - this.checkpoint),
      eventsHandled: this.eventsHandled,
      eventsPerSecond: this.rates.perSecond(now, 'events'),
      lastError: this.lastError,
      paused: this.paused,
      rebuilding: this.rebuilding,
      repairing: this.repairing,
    };
  }

  carried(): HandlersCarried {
    return {
      checkpoint: this.checkpoint,
      eventsHandled: this.eventsHandled,
      paused: this.paused,
      lastError: this.lastError,
      ...(this.repairing ? { repairing: this.repairing, rebuilding: this.rebuilding } : {}),
    };
  }
}
