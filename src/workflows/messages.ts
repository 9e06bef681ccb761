import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { EndpointHealth } from '../rpc/health';
import type { ChunkRepair } from '../activities/types';
import type { StageStatuses } from '../stages';
import type { VerificationSummary } from '../db/verify';

/** What a verification run found and did (the `verify` update's answer, and each scheduled run's). */
export interface VerifyResult extends VerificationSummary {
  /** Mismatching chunks that still differ after re-indexing. */
  unrepaired: number;
  /** Chunks left alone because a rollback moved the checkpoint below them meanwhile. */
  skipped: number;
  durationMs: number;
  problems: string[];
}

export type IndexerMode = 'backfill' | 'realtime' | 'paused' | 'rolling-back' | 'done';

/** The `status` query's answer (docs/operations.md, "Status"): the indexer's own figures and each registered stage's object. */
export interface IndexerStatus extends StageStatuses {
  name: string;
  chainId: number;
  workflowId: string;
  runId: string;
  mode: IndexerMode;
  paused: boolean;
  /** Every block ≤ checkpoint is indexed; -1 before the first block. */
  checkpoint: number;
  head: number | null;
  safeHead: number | null;
  lag: number | null;
  blocksPerSecond: number;
  logsPerSecond: number;
  logsIndexed: number;
  reorgs: number;
  lastReorg: { at: string; block: number; depth: number; ancestor: number } | null;
  /** The last verification run: chunks that differed and were repaired, and the events its repairs added, removed and changed. */
  lastVerification: { at: string; fromBlock: number; toBlock: number; mismatches: number; repaired: number; added?: number; removed?: number; changed?: number } | null;
  lastError: string | null;
  /** The chain's RPC endpoints as the worker that ran the latest activity sees them (redacted labels). */
  rpc: EndpointHealth[];
  /** Where the indexer started and, when every contract has one, where it ends (for progress). */
  startBlock: number;
  endBlock: number | null;
}

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal('stop');
export const statusQuery = defineQuery<IndexerStatus>('status');
/** From a verification child: a repair changed stored events that stages had gone past (each stage's summary). */
export const repairedSignal = defineSignal<[ChunkRepair]>('repaired');

export interface ResetInput {
  toBlock: number;
}
export interface ResetResult {
  checkpoint: number;
  rowsDeleted: number;
}
/** An update rather than a signal: `indexer reset` waits for the rollback to be done. */
export const resetUpdate = defineUpdate<ResetResult, [ResetInput]>('reset');

export interface VerifyRequest {
  fromBlock?: number;
  toBlock?: number;
}
/** `indexer verify`: runs a verification child now and answers with its result. */
export const verifyUpdate = defineUpdate<VerifyResult, [VerifyRequest]>('verify');
