import type { IndexerSpec } from '../spec';
import { activities } from './activity-options';
import type { IndexerState } from './indexer-state';
import { persistently } from './persistently';

const SAVE_INTERVAL_MS = 2_000;

/**
 * Keeps `_checkpoints` near the workflow's watermark (the truth while the run lives), at most
 * every couple of seconds in backfill, and always before the mode changes or the run ends: a new
 * run (after stop, terminate or reset of the workflow) resumes from the stored one.
 */
export class CheckpointSaver {
  private saved: number | null = null;
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

  async flush(force: boolean): Promise<void> {
    if (this.saved === this.state.checkpoint) return;
    if (!force && Date.now() - this.lastSaveAt < SAVE_INTERVAL_MS) return;
    const block = this.state.checkpoint;
    const { name, chainId } = this.spec;
    await persistently(this.state, () => activities.saveCheckpoint({ name, chainId, block }), { bookkeeping: true });
    this.saved = block;
    this.lastSaveAt = Date.now();
  }
}
