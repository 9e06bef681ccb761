import { qualified } from '../db/identifiers';
import { BOOKKEEPING } from '../db/schema';
import { WHOLE_BLOCK } from '../db/stages';

/**
 * `_meta`: where each chain of an indexer stands, read from its bookkeeping tables only (so an API
 * replica answers without Temporal or an RPC), inside the request's transaction (so it agrees with
 * the rows the same response returns). Block numbers are numbers: they are far below 2^53.
 */
export interface MetaEntry {
  chainId: number;
  /** The ingest checkpoint as stored: every block ≤ it is indexed. */
  checkpoint: number;
  /** The last block whose events the handlers have all handled; null without handlers. */
  handlersCheckpoint: number | null;
  /** The last block whose events the stream has all published; null without a stream. */
  streamCheckpoint: number | null;
  /** The chain head as an activity last saw it; null until the workers record it. */
  head: number | null;
  /** The indexer's mode as its status shows it (backfill, realtime, paused, rolling-back, done). */
  mode: string | null;
  /** Reorgs rolled back (resets not counted). */
  reorgs: number;
  /** When the checkpoint row last changed, ISO 8601. */
  updatedAt: string | null;
}

/** Which optional columns `_checkpoints` has (`head` and `mode` came with the read API). */
export interface CheckpointColumns {
  head: boolean;
  mode: boolean;
}

/** A stage's checkpoint from its cursor row (db/stages.ts, stageCheckpoint), in SQL. */
function stageCheckpointSql(schema: string, stage: 'handlers' | 'stream'): string {
  return `(SELECT CASE WHEN s.log_index = ${WHOLE_BLOCK} THEN s.block_number ELSE s.block_number - 1 END
             FROM ${qualified(schema, BOOKKEEPING.stages)} s WHERE s.chain_id = c.chain_id AND s.stage = '${stage}')`;
}

/** The `_meta` query of one indexer: a row per chain, every value as text. */
export function metaSql(schema: string, columns: CheckpointColumns): string {
  return `SELECT c.chain_id::text AS chain_id,
                 c.block_number::text AS checkpoint,
                 ${stageCheckpointSql(schema, 'handlers')}::text AS handlers_checkpoint,
                 ${stageCheckpointSql(schema, 'stream')}::text AS stream_checkpoint,
                 ${columns.head ? 'c.head::text' : 'NULL::text'} AS head,
                 ${columns.mode ? 'c.mode::text' : 'NULL::text'} AS mode,
                 (SELECT count(*) FROM ${qualified(schema, BOOKKEEPING.reorgs)} r WHERE r.chain_id = c.chain_id AND r.reason = 'reorg')::text AS reorgs,
                 (SELECT count(*) FROM ${qualified(schema, BOOKKEEPING.reorgs)} r WHERE r.chain_id = c.chain_id)::text AS rollbacks,
                 to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at
            FROM ${qualified(schema, BOOKKEEPING.checkpoints)} c
           ORDER BY c.chain_id`;
}

export interface MetaRow {
  chain_id: string;
  checkpoint: string;
  handlers_checkpoint: string | null;
  stream_checkpoint: string | null;
  head: string | null;
  mode: string | null;
  reorgs: string;
  rollbacks: string;
  updated_at: string | null;
}

const num = (text: string | null): number | null => (text === null ? null : Number(text));

export function metaEntry(row: MetaRow): MetaEntry {
  return {
    chainId: Number(row.chain_id),
    checkpoint: Number(row.checkpoint),
    handlersCheckpoint: num(row.handlers_checkpoint),
    streamCheckpoint: num(row.stream_checkpoint),
    head: num(row.head),
    mode: row.mode,
    reorgs: Number(row.reorgs),
    updatedAt: row.updated_at,
  };
}

/** Rollbacks (reorgs and resets) per chain: how the notifications tell a rollback they missed. */
export function rollbacksOf(row: MetaRow): number {
  return Number(row.rollbacks);
}

/** Which optional columns `_checkpoints` has, from the catalog. */
export const CHECKPOINT_COLUMNS_SQL = `SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = '${BOOKKEEPING.checkpoints}' AND a.attnum > 0 AND NOT a.attisdropped`;

export function checkpointColumns(names: readonly string[]): CheckpointColumns {
  return { head: names.includes('head'), mode: names.includes('mode') };
}
