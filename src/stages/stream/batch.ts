import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { specStartBlock } from '../../spec';
import type { EventTable } from '../../abi/layout';
import { readCheckpoint } from '../../db/checkpoint';
import { lockChainHistory } from '../../db/locks';
import { inTransaction, type Pool } from '../../db/pool';
import { WHOLE_BLOCK, lockStageCursor, saveStageCursor, stageCheckpoint, type StageCursor } from '../../db/stages';
import { readStoredEvents } from '../../db/stored-events';
import {
  STREAM_STAGE,
  countOutbox,
  deleteOutbox,
  insertOutbox,
  nextPublications,
  readOutbox,
  readStreamPosition,
  saveStreamPosition,
  storedHashes,
  type StreamPosition,
} from './outbox';
import { StreamConfigError, StreamDuplicateError } from '../../errors';
import type { IndexerSpec } from '../../spec';
import type { StreamSpec } from './config';
import { asStreamError, ensureStream, lastMessageOn, readMessages, type NatsLink } from './connection';
import { chainSubjects, eventMessage, type StreamMessage } from './message';
import { publishInOrder, type PublishOutcome } from './publisher';
import { planReconcile } from './reconcile';

export interface StreamTarget {
  pool: Pool;
  spec: IndexerSpec & { stream: StreamSpec };
  tables: readonly EventTable[];
  link: NatsLink;
  /** Publishes awaiting their ack at most. */
  window: number;
  warn: (fields: object, message: string) => void;
}

export interface StreamBatchResult {
  published: number;
  retracted: number;
  /** The last block whose events are all published. */
  checkpoint: number;
  /** Nothing more to publish up to the bound this batch saw, and no retraction owed. */
  caughtUp: boolean;
  retractionsPending: boolean;
}

/** Without an ack for this long the server counts as gone. */
const ACK_STALL_MS = 15_000;

/**
 * One transaction, under the chain's history lock (a rollback waits for it, so it never changes
 * the events between their publish and the cursor's move): reconcile with what the stream holds,
 * then publish the owed retractions (newest first) or else the next stored events after the cursor
 * (never past the stored ingest checkpoint nor `toBlock`), wait for every ack, and move the cursor.
 * Any failure rolls the transaction back; what reached the stream is reconciled next time.
 */
export async function publishBatch(target: StreamTarget, toBlock: number, limit: number): Promise<StreamBatchResult> {
  try {
    // Connected and the stream checked before the transaction: an unreachable server never holds the history lock.
    const jsm = await target.link.manager();
    const info = await ensureStream(jsm, target.spec.stream.stream, target.spec.stream.subject);
    return await inTransaction(target.pool, (client) => publishInTransaction(client, target, jsm, info, toBlock, limit));
  } catch (error) {
    // A fresh connection next time: whatever this one still buffers must not follow a gap.
    if (!(error instanceof StreamConfigError)) await target.link.reset();
    throw asStreamError(error, target.link.label);
  }
}

async function publishInTransaction(
  client: Parameters<Parameters<typeof inTransaction>[1]>[0],
  target: StreamTarget,
  jsm: JetStreamManager,
  info: StreamInfo,
  toBlock: number,
  limit: number,
): Promise<StreamBatchResult> {
  const { spec, tables, link } = target;
  const { name, chainId } = spec;
  const { stream, subject } = spec.stream;
  const filter = chainSubjects(subject, chainId);
  const startBlock = specStartBlock(spec);
  await lockChainHistory(client, name, chainId);
  let cursor: StageCursor = await lockStageCursor(client, name, chainId, STREAM_STAGE, startBlock);
  const last = await lastMessageOn(jsm, stream, filter);
  let position = await readStreamPosition(client, name, chainId);
  const result = { published: 0, retracted: 0 };

  if (!position || position.stream !== stream || position.streamCreated !== info.created) {
    // This chain's first batch on this stream (or on a stream made anew): nothing of ours is in it.
    if (last) {
      throw new StreamConfigError(
        `stream ${stream} already holds messages on ${filter} (up to sequence ${last.seq}) that this database did not publish (a dropped schema, or another indexer on the same subject?): purge them (nats stream purge ${stream} --subject '${filter}') or set stream.nats.stream/subject to others, then indexer resume ${name}`,
      );
    }
    if (position) target.warn({ stream, previous: position.stream }, `stream ${stream} is not the one this chain published to before; publishing continues after block ${stageCheckpoint(cursor)}`);
    // Committed on its own, before anything is published: a crash in the first batch must find it.
    await saveStreamPosition(client, name, chainId, { stream, streamCreated: info.created, subject, seq: 0 });
    return { ...result, checkpoint: stageCheckpoint(cursor), caughtUp: false, retractionsPending: false };
  }

  if (last && last.seq > position.seq) {
    // Published before a crash (or a lost ack) and not recorded: find out what it was.
    const tail = await readMessages(await link.connection(), stream, filter, position.seq + 1, last.seq);
    const outbox = await readOutbox(client, name, chainId, tail.length);
    const nextEvents = await readStoredEvents(client, name, chainId, tables, cursor, Number.MAX_SAFE_INTEGER, tail.length + 1);
    const hashes = await storedHashes(client, name, chainId, tables, tail.flatMap((m) => (m.body && !m.body.removed ? [m.body] : [])));
    const plan = planReconcile({ tail, outbox, nextEvents, storedHash: (b, l) => hashes.get(`${b}:${l}`) });
    for (const seq of plan.outOfOrder) await jsm.streams.deleteMessage(stream, seq, false);
    await deleteOutbox(client, name, chainId, plan.retracted);
    await insertOutbox(client, name, chainId, plan.orphans);
    if (plan.cursor) {
      result.published += nextEvents.findIndex((e) => e.blockNumber === plan.cursor!.blockNumber && e.logIndex === plan.cursor!.logIndex) + 1;
      cursor = { ...cursor, block: plan.cursor.blockNumber, logIndex: plan.cursor.logIndex };
    }
    result.retracted += plan.retracted.length;
    target.warn(
      { stream, tail: tail.length, published: result.published, retracted: plan.retracted.length, orphans: plan.orphans.length, outOfOrder: plan.outOfOrder.length, foreign: plan.foreign },
      'reconciled messages the stream held beyond the recorded cursor',
    );
    position = { ...position, seq: last.seq };
  } else if ((last?.seq ?? 0) < position.seq) {
    target.warn({ stream, recorded: position.seq, last: last?.seq ?? 0 }, `messages this chain published to ${stream} were removed from it (purged?); publishing continues`);
    position = { ...position, seq: last?.seq ?? 0 };
  }

  const outbox = await readOutbox(client, name, chainId, limit);
  if (outbox.length > 0) {
    const ack = await publishInOrder(await link.connection(), outbox, { window: target.window, stallMs: ACK_STALL_MS, label: link.label });
    await trustDuplicates(jsm, stream, outbox, ack, position.seq);
    await deleteOutbox(client, name, chainId, outbox.map((r) => r.msgId));
    result.retracted += outbox.length;
    position = { ...position, seq: ack.lastSeq };
    const pending = outbox.length === limit && (await countOutbox(client, name, chainId)) > 0;
    await save(client, target, cursor, position);
    return { ...result, checkpoint: stageCheckpoint(cursor), caughtUp: false, retractionsPending: pending };
  }

  const stored = (await readCheckpoint(client, name, chainId)) ?? startBlock - 1;
  const upTo = Math.min(toBlock, stored);
  if (stageCheckpoint(cursor) >= upTo) {
    await save(client, target, cursor, position);
    return { ...result, checkpoint: stageCheckpoint(cursor), caughtUp: true, retractionsPending: false };
  }
  const events = await readStoredEvents(client, name, chainId, tables, cursor, upTo, limit);
  if (events.length > 0) {
    // An event retracted before (a reset, a reorg back to these blocks) is published under its next number.
    const publications = await nextPublications(client, name, chainId, events);
    const messages = events.map((e, i) => eventMessage(subject, chainId, e, publications[i]));
    const ack = await publishInOrder(await link.connection(), messages, { window: target.window, stallMs: ACK_STALL_MS, label: link.label });
    await trustDuplicates(jsm, stream, messages, ack, position.seq);
    position = { ...position, seq: ack.lastSeq };
    result.published += events.length;
  }
  const lastEvent = events[events.length - 1];
  const complete = events.length < limit;
  cursor = complete ? { ...cursor, block: upTo, logIndex: WHOLE_BLOCK } : { ...cursor, block: lastEvent!.blockNumber, logIndex: lastEvent!.logIndex };
  await save(client, target, cursor, position);
  return { ...result, checkpoint: stageCheckpoint(cursor), caughtUp: complete, retractionsPending: false };
}

/**
 * A duplicate acknowledgement says JetStream already holds a message with that id, and stored
 * nothing. It stands only for this stage's own publication that the stream still holds beyond the
 * recorded sequence (sent before a crash, not yet accounted for: the same id, subject and body);
 * any other means the message is not in the stream (two messages given one id, or the earlier one
 * deleted): the batch fails, and nothing of it is recorded as published.
 */
async function trustDuplicates(jsm: JetStreamManager, stream: string, messages: readonly StreamMessage[], ack: PublishOutcome, recordedSeq: number): Promise<void> {
  for (const { index, seq } of ack.duplicates) {
    const sent = messages[index]!;
    const held = seq > recordedSeq ? await jsm.streams.getMessage(stream, { seq }).catch(() => null) : null;
    if (held && held.header?.get('Nats-Msg-Id') === sent.msgId && held.subject === sent.subject && held.string() === JSON.stringify(sent.body)) continue;
    throw new StreamDuplicateError(
      `JetStream took ${sent.msgId} (block ${sent.blockNumber} log ${sent.logIndex}) for a duplicate of sequence ${seq}, which is not this publication of it: the event is not in the stream; retrying until JetStream's duplicate window has passed`,
    );
  }
}

async function save(client: Parameters<Parameters<typeof inTransaction>[1]>[0], target: StreamTarget, cursor: StageCursor, position: StreamPosition): Promise<void> {
  await saveStageCursor(client, target.spec.name, target.spec.chainId, STREAM_STAGE, cursor);
  await saveStreamPosition(client, target.spec.name, target.spec.chainId, position);
}
