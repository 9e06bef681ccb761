import type { RollbackWrite } from '../db/rollback';
import type { VerificationRecord } from '../db/verify';
import type { EndpointHealth } from '../rpc/endpoint';
import type { IndexerSpec } from '../spec';
import type { StagesPrepared } from '../stages';

/** Inputs and summaries of the activities: small JSON, never the logs themselves. */

export interface PrepareIndexerInput {
  spec: IndexerSpec;
}
export interface PreparedIngest {
  /** Every block ≤ checkpoint is indexed. */
  checkpoint: number;
  logsIndexed: number;
  tables: string[];
  /** Factories: how far their events have been read. */
  discoveredThrough?: number;
}
/** What prepareIndexer reports: the indexer's own figures, and each configured stage's (stages/index.ts). */
export type PrepareIndexerResult = PreparedIngest & StagesPrepared;

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
  /** The mode and head the status shows (absent from runs of versions before the read API). */
  mode?: string;
  head?: number | null;
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
  /** What a repair changed: events added, removed and changed, the lowest block among them, and what each stage made of it. */
  repair?: ChunkRepair;
}

export interface ChunkRepair {
  fromBlock: number | null;
  added: number;
  removed: number;
  changed: number;
  /** By stage name: the summary its `StageState.repaired` reads. */
  stages: Record<string, object>;
}

export type RecordVerificationInput = Omit<VerificationRecord, 'schema' | 'chainId'> & { spec: IndexerSpec };

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

export interface CreateReadIndexesInput {
  spec: IndexerSpec;
}
export interface CreateReadIndexesResult {
  /** Indexes built now (0: they were there). */
  built: number;
}
