import type { IndexerSpec } from '../../spec';

/** The stream stage's activity input and summary, status, carried state and prepared fields: small JSON. */

export interface PublishEventsInput {
  spec: IndexerSpec;
  /** Publish up to this block: the stored ingest checkpoint, and for `delivery: "safe"` the safe head too. */
  toBlock: number;
}
export interface PublishEventsResult {
  /** The last block whose events are all published. */
  checkpoint: number;
  published: number;
  retracted: number;
  durationMs: number;
  /** Nothing more to publish up to the bound, and no retraction owed. */
  caughtUp: boolean;
  /** Retractions still owed (the outbox is not empty). */
  retractionsPending: boolean;
}

/** `status.stream` (docs/stream.md, "Message ids"). */
export interface StreamStatus {
  /** The last block whose events are all published (and acknowledged by JetStream). */
  checkpoint: number;
  /** Blocks between it and what it may publish now (the ingest checkpoint; for `safe` delivery at most the safe head). */
  lag: number | null;
  /** Events published (each once), and retractions published after reorgs and resets, by this workflow. */
  published: number;
  retracted: number;
  publishedPerSecond: number;
  /** NATS unreachable, or the stream unusable as configured; names the server by its redacted label. */
  lastError: string | null;
  /** Stopped by a fault retrying cannot fix, until `indexer resume`. */
  paused: boolean;
  delivery: 'safe' | 'instant';
  /** The JetStream stream and subject prefix (messages on `<subject>.<chainId>.<Contract>.<Event>`). */
  stream: string;
  subject: string;
}

/** What the stream stage carries from one run of the indexer workflow to the next. */
export interface StreamCarried {
  checkpoint: number;
  published: number;
  retracted: number;
  paused: boolean;
  lastError: string | null;
  retractionsPending: boolean;
}

/** What prepareIndexer reports of the stream stage. */
export interface StreamPrepared {
  /** Where the stream stands (the last block whose events it all published), when configured. */
  streamCheckpoint?: number;
  /** The stream's outbox holds retractions not yet published. */
  streamRetractionsPending?: boolean;
}
