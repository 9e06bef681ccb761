import type { RollbackWrite } from '../db/rollback';
import type { VerificationRecord } from '../db/verify';
import type { EndpointHealth } from '../rpc/endpoint';
import type { IndexerSpec } from '../spec';

/** Inputs and summaries of the activities: small JSON, never the logs themselves. */

export interface PrepareIndexerInput {
  spec: IndexerSpec;
}
export interface PrepareIndexerResult {
  /** Every block ≤ checkpoint is indexed. */
  checkpoint: number;
  logsIndexed: number;
  tables: string[];
  /** Where the handlers stand (the last block whose events they all handled), when configured. */
  handlersCheckpoint?: number;
  /** Factories: how far their events have been read. */
  discoveredThrough?: number;
  /** Where the stream stands (the last block whose events it all published), when configured. */
  streamCheckpoint?: number;
  /** The stream's outbox holds retractions not yet published. */
  streamRetractionsPending?: boolean;
}

export interface GetHeadInput {
  spec: IndexerSpec;
}
export interface GetHeadResult {
  head: number;
  safeHead: number;
  rpc?: EndpointHealth[];
  /** Something about the endpoints an operator should see (shown as lastError until a clean result). */
  notice?: string;
}

export interface IndexRangeInput {
  spec: IndexerSpec;
  fromBlock: number;
  toBlock: number;
  /** Store the full header chain of blocks ≥ this (near the head, where reorgs happen). */
  trackHashesFrom?: number;
}
export interface IndexRangeResult {
  fromBlock: number;
  toBlock: number;
  logs: number;
  /** How many times the RPC refused a range and it was split. */
  splits: number;
  /** The largest range the RPC accepted when it had to split, so the workflow can shrink its range size. */
  acceptedRange?: number;
  durationMs: number;
  /** The worker's view of the chain's endpoints after this activity (breaker state, counters). */
  rpc?: EndpointHealth[];
  /**
   * What went wrong with the endpoints but was put right (logs an endpoint omitted, an endpoint
   * out of rotation): the workflow shows it as lastError until the next result without one.
   */
  notice?: string;
}

export interface SaveCheckpointInput {
  name: string;
  chainId: number;
  block: number;
}

export interface SyncTipInput {
  spec: IndexerSpec;
  /** The workflow's checkpoint; the stored hash of this block must still be canonical. */
  checkpoint: number;
  /** At most this many new blocks per call. */
  maxBlocks: number;
  /** With nothing new yet, poll the head inside the activity for up to this long before returning. */
  waitMs?: number;
}
export interface SyncTipResult {
  head: number;
  safeHead: number;
  fromBlock: number;
  toBlock: number;
  logs: number;
  durationMs: number;
  checkpointAdvanced: boolean;
  /** Set when the stored chain is no longer canonical; nothing was written. */
  reorg?: { detectedBlock: number; storedHash: string; canonicalHash: string };
  rpc?: EndpointHealth[];
  /** As IndexRangeResult.notice; also "every reachable endpoint is behind the checkpoint …; waiting". */
  notice?: string;
}

export interface FindCommonAncestorInput {
  spec: IndexerSpec;
  /** The highest block known to differ (or to be suspect). */
  detectedBlock: number;
}
export interface FindCommonAncestorResult {
  ancestor: number;
  depth: number;
  oldHash: string | null;
  newHash: string | null;
}

/** What the workflow knows of a rollback; the worker adds schema, tables and the idempotency key. */
export type RollbackInput = Omit<RollbackWrite, 'schema' | 'chainId' | 'tables' | 'key' | 'eventTables'> & { spec: IndexerSpec };
export interface RollbackResult {
  checkpoint: number;
  rowsDeleted: number;
}

export interface VerifyRangeInput {
  spec: IndexerSpec;
  fromBlock: number;
  toBlock: number;
  /** Re-index the chunk when it does not match. */
  repair: boolean;
}
export interface VerifyRangeResult {
  fromBlock: number;
  toBlock: number;
  rowsOnChain: number;
  rowsStored: number;
  mismatch: boolean;
  repaired: boolean;
  /** A rollback moved the checkpoint below the chunk while it was checked: left to indexing. */
  skipped: boolean;
  /** What differed, a few lines at most. */
  problems: string[];
}

export type RecordVerificationInput = Omit<VerificationRecord, 'schema' | 'chainId'> & { spec: IndexerSpec };

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

export interface DiscoverChildrenInput {
  spec: IndexerSpec;
  /** Read the factories' events from here (the discovery cursor + 1) up to toBlock, or as far as one activity gets. */
  fromBlock: number;
  toBlock: number;
}
export interface DiscoverChildrenResult {
  /** Every block ≤ this has had its factory events read (and their children recorded). */
  through: number;
  children: number;
  rpc?: EndpointHealth[];
}

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
