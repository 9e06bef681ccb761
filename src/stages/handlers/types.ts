import type { IndexerSpec } from '../../spec';

/** The handlers stage's activity inputs and summaries, status, carried state and prepared fields: small JSON. */

export interface HandleEventsInput {
  spec: IndexerSpec;
  /** Handle up to this block (the workflow's stored checkpoint); the stored ingest checkpoint bounds it too. */
  toBlock: number;
  /** The chain's head as the workflow last saw it (absent from workflows started before it was passed). */
  head?: number;
}
export interface HandleEventsResult {
  /** The last block whose events are all handled. */
  checkpoint: number;
  events: number;
  durationMs: number;
  /** Nothing more to handle up to the bound. */
  caughtUp: boolean;
  /** A handler threw: the stage pauses with this in its lastError. */
  failure?: { key: string; block: number; logIndex: number; message: string };
}

export interface RebuildHandlersInput {
  spec: IndexerSpec;
  /** One id per `indexer rebuild`, shared by the indexer's chains: the first to ask does the work. */
  rebuildId: string;
}
export interface RebuildHandlersResult {
  /** Where the handlers stand now: before their first event. */
  checkpoint: number;
}

/** `status.handlers` (docs/design.md, "Stages and their cursors"). */
export interface HandlersStatus {
  /** The last block whose events the handlers have all handled. */
  checkpoint: number;
  /** Blocks between it and the ingest checkpoint. */
  lag: number;
  eventsHandled: number;
  eventsPerSecond: number;
  /** A handler failed (`handler <Contract:Event> failed at block <N> log <I>: …`) or the stage could not run. */
  lastError: string | null;
  /** Stopped by a failing handler until `indexer resume` (ingest goes on). */
  paused: boolean;
  /** `indexer rebuild` (or a repair beyond the undo log) is replaying stored events. */
  rebuilding: boolean;
  /** A repair (verification) changed events the handlers had handled: replaying from `fromBlock` by the undo log, or by a rebuild; null once caught up. */
  repairing: { fromBlock: number; via: 'undo' | 'rebuild' } | null;
}

/** What the handlers stage carries from one run of the indexer workflow to the next. */
export interface HandlersCarried {
  checkpoint: number;
  eventsHandled: number;
  paused: boolean;
  lastError: string | null;
  /** A repair's replay in progress (absent from runs of versions before repairs reached the stages). */
  repairing?: HandlersStatus['repairing'];
  rebuilding?: boolean;
}

/** What prepareIndexer reports of the handlers stage. */
export interface HandlersPrepared {
  /** Where the handlers stand (the last block whose events they all handled), when configured. */
  handlersCheckpoint?: number;
}

export interface RebuildRequest {
  /** One id per `indexer rebuild`, the same for every chain of the indexer. */
  rebuildId: string;
}
export interface RebuildResult {
  /** The replay runs from the handlers' first event up to the ingest checkpoint. */
  fromBlock: number;
  toBlock: number;
}
