import type { Queryable } from './pool';

/**
 * The read API's live channel (docs/api.md, the `checkpoints` subscription): each handlers batch and
 * each rollback sends one NOTIFY in its own transaction, so PostgreSQL delivers it when (and only
 * if) that transaction commits, after the data it announces is visible.
 */
export function progressChannel(schema: string): string {
  return `indexer_${schema}`;
}

export interface Progress {
  chainId: number;
  /** The ingest checkpoint as stored. */
  checkpoint: number;
  /** The handlers' checkpoint; null without handlers. */
  handlersCheckpoint: number | null;
  /** Sent by a rollback (a reorg, `indexer reset`): rows above the ancestor are gone. */
  reorg: boolean;
}

export async function notifyProgress(client: Queryable, schema: string, progress: Progress): Promise<void> {
  await client.query('SELECT pg_notify($1, $2)', [progressChannel(schema), JSON.stringify(progress)]);
}
