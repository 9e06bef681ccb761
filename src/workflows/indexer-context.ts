import { workflowInfo } from '@temporalio/workflow';
import type { IndexerSpec, SpecRef } from '../spec';
import type { CheckpointSaver } from './checkpoint-saver';
import type { IndexerState } from './indexer-state';

/** What the steps of one indexer run share: its spec, its state, and the checkpoint saver. */
export interface IndexerContext {
  spec: IndexerSpec;
  /** What activities and children get instead of the spec (after prepareIndexer stored it). */
  ref: SpecRef;
  state: IndexerState;
  checkpoints: CheckpointSaver;
}

const HISTORY_LIMIT = 5_000;

/** The run should hand over to a new one (continueAsNew) before its history grows large. */
export function historyTooLong(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > HISTORY_LIMIT;
}
