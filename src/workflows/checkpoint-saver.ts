import { patched } from '@temporalio/workflow';
import type { IndexerSpec } from '../spec';
import { activities } from './activities';
import type { IndexerState } from './indexer-state';
import { persistently } from './persistently';

const SAVE_INTERVAL_MS = 2_000;
/**
 * The least interval while a downstream stage has caught up with the stored checkpoint and waits
 * for it to move (a save then comes with the next range that settles): at the start of a backfill
 * the handlers finished the first save's events in a few hundred milliseconds, then waited 1.7 s
 * for the next one.
 */
const SAVE_INTERVAL_WHILE_AWAITED_MS = 250;
/** Runs recorded before a waiting stage shortened the interval replay without it (their saves came later). */
const SAVE_SOONER_FOR_WAITING_STAGES = 'save-checkpoint-sooner-for-waiting-stages';
/** Runs recorded before the mode was stored beside the checkpoint (the read API's _meta) saved only when the checkpoint moved. */
const SAVE_MODE_CHANGES = 'save-checkpoint-on-mode-change';

/**
 * Keeps `_checkpoints` near the workflow's watermark (the truth while the run lives), at most
 * every couple of seconds in backfill (sooner while a downstream stage waits for it), and always
 * before the mode changes or the run ends: a new
 * run (after stop, terminate or reset of the workflow) resumes from the stored one.
 */
export class CheckpointSaver {
  private saved: number | null = null;
  private savedMode: string | null = null;
  private lastSaveAt = 0;

  constructor(
    private readonly spec: IndexerSpec,
    private readonly state: IndexerState,
  ) {}

  /** The checkpoint known to be stored: downstream stages never go past it. */
  get stored(): number | null {
    return this.saved;
  }

  /** The stored checkpoint is known to be `block` (an activity moved it in its own transaction). */
  markSaved(block: number | null): void {
    this.saved = block;
  }

  /**
   * Saves the checkpoint when it moved (at most every couple of seconds unless `force`), with the
   * mode and head the status shows; and, forced, when only the mode changed (readers without
   * Temporal, the read API's _meta, see it too).
   */
  async flush(force: boolean): Promise<void> {
    const mode = this.state.statusMode;
    const moved = this.saved !== this.state.checkpoint;
    if (!moved && !(force && this.saved !== null && mode !== this.savedMode && patched(SAVE_MODE_CHANGES))) return;
    if (!force && !this.due()) return;
    const block = this.state.checkpoint;
    const { name, chainId } = this.spec;
    await persistently(this.state, () => activities.saveCheckpoint({ name, chainId, block, mode, head: this.state.head }), { bookkeeping: true });
    this.saved = block;
    this.savedMode = mode;
    this.lastSaveAt = Date.now();
  }

  private due(): boolean {
    const since = Date.now() - this.lastSaveAt;
    if (since >= SAVE_INTERVAL_MS) return true;
    return since >= SAVE_INTERVAL_WHILE_AWAITED_MS && this.state.stageWaitsFor(this.saved) && patched(SAVE_SOONER_FOR_WAITING_STAGES);
  }
}
