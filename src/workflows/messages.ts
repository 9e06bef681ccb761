import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { EndpointHealth } from '../rpc/health';
import type { VerifyResult } from './verify';

export type IndexerMode = 'backfill' | 'realtime' | 'paused' | 'rolling-back' | 'done';

/** The `status` query's answer (DESIGN.md, "Status"). */
export interface IndexerStatus {
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
  lastVerification: { at: string; fromBlock: number; toBlock: number; mismatches: number; repaired: number } | null;
  lastError: string | null;
  /** The chain's RPC endpoints as the worker that ran the latest activity sees them (redacted labels). */
  rpc: EndpointHealth[];
  /** Where the indexer started and, when every contract has one, where it ends (for progress). */
  startBlock: number;
  endBlock: number | null;
  /** The handlers stage (DESIGN.md, "Stages"); null when the config has no handlers. */
  handlers: HandlersStatus | null;
  /** The stream stage (DESIGN.md, "Stream"); null when the config has no stream. */
  stream: StreamStatus | null;
}

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
  /** `indexer rebuild` is replaying stored events. */
  rebuilding: boolean;
}

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal('stop');
export const statusQuery = defineQuery<IndexerStatus>('status');

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

export interface RebuildRequest {
  /** One id per `indexer rebuild`, the same for every chain of the indexer. */
  rebuildId: string;
}
export interface RebuildResult {
  /** The replay runs from the handlers' first event up to the ingest checkpoint. */
  fromBlock: number;
  toBlock: number;
}
/** `indexer rebuild`: answers once derived tables are emptied and setup ran; the replay follows in the status. */
export const rebuildUpdate = defineUpdate<RebuildResult, [RebuildRequest]>('rebuild');
