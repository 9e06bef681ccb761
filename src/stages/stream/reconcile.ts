import type { StoredStreamMessage } from './connection';
import { publicationOf, retractionOf, type StreamMessage } from './message';

/** A position in the chain's stored events. */
export interface EventPosition {
  blockNumber: number;
  logIndex: number;
  blockHash: string;
}

export interface ReconcileInput {
  /** The chain's messages the stream holds beyond the last one the database recorded, in stream order. */
  tail: readonly StoredStreamMessage[];
  /** The outbox's next messages (retractions, a repair's publications), in the order the stage publishes them (newest event first). */
  outbox: ReadonlyArray<{ msgId: string }>;
  /** The stored events right after the stage's cursor, in chain order (at least as many as the tail holds). */
  nextEvents: readonly EventPosition[];
  /** The stored event's block hash at a position, if one is stored there. */
  storedHash: (blockNumber: number, logIndex: number) => string | undefined;
}

export interface ReconcilePlan {
  /** Where the cursor moves: the last stored event the tail shows published (null: stays). */
  cursor: { blockNumber: number; logIndex: number } | null;
  /** Outbox rows whose message is already in the stream. */
  retracted: string[];
  /** Published events a rollback has since removed: their retractions join the outbox. */
  orphans: StreamMessage[];
  /** Messages out of order (after one that never made it): deleted from the stream, published again in order. */
  outOfOrder: number[];
  /** The last stream sequence now accounted for. */
  seq: number | null;
  /** Messages on the chain's subjects that this indexer did not write (skipped). */
  foreign: number;
}

/**
 * What the stream's unrecorded tail means. A publish counts once its ack is in, and the cursor
 * moves after acks, so a crash (or a lost ack) leaves messages in the stream that the database
 * does not know of. Within JetStream's duplicate window a re-publish would be dropped by its
 * `Nats-Msg-Id`; beyond it, or if a rollback has since changed the chain, only this walk keeps the
 * stream exactly-once: each tail message is matched, in order, against what the stage would
 * publish next (the outbox's messages newest first, then stored events after the cursor).
 * - the next expected outbox message or event: recorded as published;
 * - an event no longer stored (a rollback removed it): its retraction is owed;
 * - anything after a message that never reached the stream (possible only when the server refused
 *   one message and took the next): deleted, so the stream stays in chain order.
 */
export function planReconcile(input: ReconcileInput): ReconcilePlan {
  const plan: ReconcilePlan = { cursor: null, retracted: [], orphans: [], outOfOrder: [], seq: null, foreign: 0 };
  let nextRetraction = 0;
  let nextEvent = 0;
  let broken = false;
  for (const m of input.tail) {
    if (broken) {
      plan.outOfOrder.push(m.seq);
      continue;
    }
    if (!m.body || !m.msgId) {
      plan.foreign += 1;
      plan.seq = m.seq;
      continue;
    }
    if (input.outbox[nextRetraction]?.msgId === m.msgId) {
      plan.retracted.push(m.msgId);
      nextRetraction += 1;
      plan.seq = m.seq;
      continue;
    }
    if (input.outbox.some((row) => row.msgId === m.msgId)) {
      broken = true;
      plan.outOfOrder.push(m.seq);
      continue;
    }
    if (m.body.removed) {
      plan.foreign += 1;
      plan.seq = m.seq;
      continue;
    }
    const expected = input.nextEvents[nextEvent];
    const { blockNumber, logIndex, blockHash } = m.body;
    if (expected && expected.blockNumber === blockNumber && expected.logIndex === logIndex && expected.blockHash === blockHash) {
      plan.cursor = { blockNumber, logIndex };
      nextEvent += 1;
      plan.seq = m.seq;
    } else if (input.storedHash(blockNumber, logIndex) === blockHash) {
      // Stored, but not the next one: an earlier event never reached the stream.
      broken = true;
      plan.outOfOrder.push(m.seq);
    } else {
      plan.orphans.push(retractionOf({ subject: m.subject, body: m.body, publication: publicationOf(m.msgId) }));
      plan.seq = m.seq;
    }
  }
  return plan;
}
