import type { EventTable } from '../../abi/layout';
import { eventMessage, publicationOf, retractionOf, type StreamMessage } from './message';
import { qualified, quoteIdent } from '../../db/identifiers';
import type { PoolClient } from '../../db/pool';
import { BOOKKEEPING } from '../../db/schema';
import { WHOLE_BLOCK } from '../../db/stages';
import type { RepairChange } from '../../db/repair';
import { readStoredEvents, type StoredEvent } from '../../db/stored-events';

export const STREAM_STAGE = 'stream';

/** The stream stage's bookkeeping tables. */
const STREAM_TABLES = {
  /** Which stream each chain publishes to, and the last stream sequence accounted for. */
  stream: '_stream',
  /** Retractions a rollback owes the stream, until they are published. */
  outbox: '_stream_outbox',
  /** Event occurrences the stream retracted, and how often: the next publication's number (its message id). */
  retractions: '_stream_retractions',
} as const;

/** The stream stage's bookkeeping, created with the indexer's tables (the stage's `ddl`). */
export function streamDdl(schema: string): string[] {
  const t = (name: string) => qualified(schema, name);
  return [
    `CREATE TABLE IF NOT EXISTS ${t(STREAM_TABLES.stream)} (
       chain_id bigint PRIMARY KEY,
       stream text NOT NULL,
       stream_created text NOT NULL,
       subject text NOT NULL,
       seq bigint NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE IF NOT EXISTS ${t(STREAM_TABLES.outbox)} (
       chain_id bigint NOT NULL,
       msg_id text NOT NULL,
       block_number bigint NOT NULL,
       log_index integer NOT NULL,
       subject text NOT NULL,
       body text NOT NULL,
       PRIMARY KEY (chain_id, msg_id))`,
    // 0: a retraction, 1: a repair's publication (a retraction goes first at one position). Added by the version that repairs.
    `ALTER TABLE ${t(STREAM_TABLES.outbox)} ADD COLUMN IF NOT EXISTS kind smallint NOT NULL DEFAULT 0`,
    `CREATE TABLE IF NOT EXISTS ${t(STREAM_TABLES.retractions)} (
       chain_id bigint NOT NULL,
       block_hash text NOT NULL,
       log_index integer NOT NULL,
       block_number bigint NOT NULL,
       retractions integer NOT NULL,
       PRIMARY KEY (chain_id, block_hash, log_index))`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${STREAM_TABLES.retractions}_block`)} ON ${t(STREAM_TABLES.retractions)} (chain_id, block_number)`,
  ];
}

/** Which stream (and which incarnation of it) the chain's messages went to, and the last sequence the database accounts for. */
export interface StreamPosition {
  stream: string;
  /** The stream's creation time as the server reports it: a stream deleted and made again is another stream. */
  streamCreated: string;
  subject: string;
  seq: number;
}

export async function readStreamPosition(client: PoolClient, schema: string, chainId: number): Promise<StreamPosition | null> {
  const { rows } = await client.query<{ stream: string; stream_created: string; subject: string; seq: string }>(
    `SELECT stream, stream_created, subject, seq FROM ${qualified(schema, STREAM_TABLES.stream)} WHERE chain_id = $1 FOR UPDATE`,
    [chainId],
  );
  const row = rows[0];
  return row ? { stream: row.stream, streamCreated: row.stream_created, subject: row.subject, seq: Number(row.seq) } : null;
}

export async function saveStreamPosition(client: PoolClient, schema: string, chainId: number, p: StreamPosition): Promise<void> {
  await client.query(
    `INSERT INTO ${qualified(schema, STREAM_TABLES.stream)} (chain_id, stream, stream_created, subject, seq) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (chain_id) DO UPDATE SET stream = EXCLUDED.stream, stream_created = EXCLUDED.stream_created, subject = EXCLUDED.subject,
       seq = EXCLUDED.seq, updated_at = now()`,
    [chainId, p.stream, p.streamCreated, p.subject, p.seq],
  );
}

interface OutboxRow {
  msg_id: string;
  block_number: string;
  log_index: number;
  subject: string;
  body: string;
}

/** The messages owed (retractions, and a repair's publications), newest event first (the order they are published in). */
export async function readOutbox(client: PoolClient, schema: string, chainId: number, limit: number): Promise<StreamMessage[]> {
  const { rows } = await client.query<OutboxRow>(
    `SELECT msg_id, block_number, log_index, subject, body FROM ${qualified(schema, STREAM_TABLES.outbox)}
      WHERE chain_id = $1 ORDER BY block_number DESC, log_index DESC, kind LIMIT $2`,
    [chainId, limit],
  );
  return rows.map((r) => ({ msgId: r.msg_id, subject: r.subject, blockNumber: Number(r.block_number), logIndex: r.log_index, body: JSON.parse(r.body), publication: publicationOf(r.msg_id) }));
}

export async function countOutbox(client: PoolClient, schema: string, chainId: number): Promise<number> {
  const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${qualified(schema, STREAM_TABLES.outbox)} WHERE chain_id = $1`, [chainId]);
  return rows[0]!.n;
}

export async function deleteOutbox(client: PoolClient, schema: string, chainId: number, msgIds: readonly string[]): Promise<void> {
  if (msgIds.length === 0) return;
  await client.query(`DELETE FROM ${qualified(schema, STREAM_TABLES.outbox)} WHERE chain_id = $1 AND msg_id = ANY($2::text[])`, [chainId, msgIds]);
}

/**
 * Messages now owed, into the outbox: retractions, and a repair's publications. Each retraction
 * also counts for its event occurrence: the next publication of that event (after a reset, a reorg
 * back to these blocks, a repair) is the next number, so it carries a message id of its own
 * (docs/stream.md, "Message ids").
 */
export async function insertOutbox(client: PoolClient, schema: string, chainId: number, messages: readonly StreamMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const retractions = messages.filter((m) => m.body.removed);
  if (retractions.length > 0) await countRetractions(client, schema, chainId, retractions);
  await client.query(
    `INSERT INTO ${qualified(schema, STREAM_TABLES.outbox)} (chain_id, msg_id, block_number, log_index, subject, body, kind)
     SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::smallint[]) ON CONFLICT (chain_id, msg_id) DO NOTHING`,
    [
      chainId,
      messages.map((r) => r.msgId),
      messages.map((r) => r.blockNumber),
      messages.map((r) => r.logIndex),
      messages.map((r) => r.subject),
      messages.map((r) => JSON.stringify(r.body)),
      messages.map((r) => (r.body.removed ? 0 : 1)),
    ],
  );
}

async function countRetractions(client: PoolClient, schema: string, chainId: number, retractions: readonly StreamMessage[]): Promise<void> {
  await client.query(
    `INSERT INTO ${qualified(schema, STREAM_TABLES.retractions)} AS r (chain_id, block_hash, log_index, block_number, retractions)
     SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::int[])
     ON CONFLICT (chain_id, block_hash, log_index) DO UPDATE SET retractions = greatest(r.retractions, EXCLUDED.retractions)`,
    [
      chainId,
      retractions.map((r) => r.body.blockHash),
      retractions.map((r) => r.logIndex),
      retractions.map((r) => r.blockNumber),
      retractions.map((r) => r.publication),
    ],
  );

}

const RETRACTION_CHUNK = 5_000;

/** An event occurrence, as `publications` keys it. */
const occurrence = (blockHash: string, logIndex: number) => `${blockHash}:${logIndex}`;

/**
 * Which publication of each event (in chain order) is its latest or next one: one more than its
 * retractions so far (1 for an event never retracted, which has no row). One query for the span.
 */
export async function nextPublications(
  client: PoolClient,
  schema: string,
  chainId: number,
  events: ReadonlyArray<{ blockNumber: number; blockHash: string; logIndex: number }>,
): Promise<number[]> {
  if (events.length === 0) return [];
  const { rows } = await client.query<{ block_hash: string; log_index: number; retractions: number }>(
    `SELECT block_hash, log_index, retractions FROM ${qualified(schema, STREAM_TABLES.retractions)} WHERE chain_id = $1 AND block_number BETWEEN $2 AND $3`,
    [chainId, events[0]!.blockNumber, events[events.length - 1]!.blockNumber],
  );
  const retracted = new Map(rows.map((r) => [occurrence(r.block_hash, r.log_index), r.retractions]));
  return events.map((e) => (retracted.get(occurrence(e.blockHash, e.logIndex)) ?? 0) + 1);
}

/**
 * The stream's side of a rollback to `ancestor`, in the rollback's transaction and before the rows
 * go: every event above the ancestor that the stream already published (at or below its cursor)
 * gets a retraction in the outbox, with the full body it was published with. The stage publishes
 * them, newest first, before any event of the new fork; a crash in between loses nothing.
 */
export async function recordRetractions(client: PoolClient, schema: string, chainId: number, ancestor: number, tables: readonly EventTable[]): Promise<number> {
  const stage = await publishedThrough(client, schema, chainId);
  if (!stage || stage.cursor.block <= ancestor) return 0;
  const { cursor } = stage;
  let after = { block: ancestor, logIndex: WHOLE_BLOCK };
  let recorded = 0;
  for (;;) {
    const events = (await readStoredEvents(client, schema, chainId, tables, after, cursor.block, RETRACTION_CHUNK)).filter(
      (e) => e.blockNumber < cursor.block || e.logIndex <= cursor.logIndex,
    );
    if (events.length === 0) return recorded;
    // Each retracts the publication the stream holds: the latest one of its event.
    const publications = await nextPublications(client, schema, chainId, events);
    await insertOutbox(client, schema, chainId, events.map((e, i) => retractionOf(eventMessage(stage.subject, chainId, e, publications[i]))));
    recorded += events.length;
    const last = events[events.length - 1]!;
    after = { block: last.blockNumber, logIndex: last.logIndex };
  }
}

/**
 * The stream's side of a repair, in the repair's transaction: of the events it already published
 * (at or below its cursor), each that left or changed is retracted and each that entered or
 * changed is published, every message marked `"repair": true` (retractions first at one position,
 * newest first, as the outbox is published); events above the cursor are published in order as
 * usual. Replaying the stream (apply events, undo retractions) stays exactly the canonical events.
 */
export async function recordRepair(client: PoolClient, schema: string, chainId: number, change: Pick<RepairChange, 'left' | 'entered'>): Promise<{ owed: number } | undefined> {
  const stage = await publishedThrough(client, schema, chainId);
  if (!stage) return undefined;
  const { cursor, subject } = stage;
  const published = (e: StoredEvent) => e.blockNumber < cursor.block || (e.blockNumber === cursor.block && e.logIndex <= cursor.logIndex);
  const left = change.left.filter(published);
  const entered = change.entered.filter(published);
  if (left.length === 0 && entered.length === 0) return undefined;
  const repair = (m: StreamMessage): StreamMessage => ({ ...m, body: { ...m.body, repair: true } });
  const retracted = await nextPublications(client, schema, chainId, left);
  await insertOutbox(client, schema, chainId, left.map((e, i) => repair(retractionOf(eventMessage(subject, chainId, e, retracted[i])))));
  // After those retractions count: a changed event is published under its next number.
  const publications = await nextPublications(client, schema, chainId, entered);
  await insertOutbox(client, schema, chainId, entered.map((e, i) => repair(eventMessage(subject, chainId, e, publications[i]))));
  return { owed: left.length + entered.length };
}

/** Where the stream has published to (its cursor, locked for the transaction) and its subject; null without a stream. */
async function publishedThrough(client: PoolClient, schema: string, chainId: number): Promise<{ cursor: { block: number; logIndex: number }; subject: string } | null> {
  // A schema made before the stream existed (a workflow carried over an upgrade) has published nothing.
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [qualified(schema, STREAM_TABLES.stream)]);
  if (!exists.rows[0]?.t) return null;
  const { rows } = await client.query<{ block_number: string; log_index: number; subject: string }>(
    `SELECT s.block_number, s.log_index, p.subject FROM ${qualified(schema, BOOKKEEPING.stages)} s
       JOIN ${qualified(schema, STREAM_TABLES.stream)} p ON p.chain_id = s.chain_id
      WHERE s.chain_id = $1 AND s.stage = $2 FOR UPDATE OF s`,
    [chainId, STREAM_STAGE],
  );
  const row = rows[0];
  return row ? { cursor: { block: Number(row.block_number), logIndex: row.log_index }, subject: row.subject } : null;
}

/** The stored block hash of each position asked for (reconciliation checks tail messages against them). */
export async function storedHashes(
  client: PoolClient,
  schema: string,
  chainId: number,
  tables: readonly EventTable[],
  positions: ReadonlyArray<{ blockNumber: number; logIndex: number }>,
): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  if (positions.length === 0) return hashes;
  for (const table of tables) {
    const { rows } = await client.query<{ block_number: string; log_index: number; block_hash: string }>(
      `SELECT t.block_number, t.log_index, t.block_hash FROM ${qualified(schema, table.table)} t
         JOIN unnest($2::bigint[], $3::int[]) AS p(b, l) ON t.block_number = p.b AND t.log_index = p.l WHERE t.chain_id = $1`,
      [chainId, positions.map((p) => p.blockNumber), positions.map((p) => p.logIndex)],
    );
    for (const r of rows) hashes.set(`${r.block_number}:${r.log_index}`, r.block_hash);
  }
  return hashes;
}
