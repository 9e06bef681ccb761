import type { EventTable } from '../../abi/layout';
import type { StoredEvent } from '../../db/stored-events';

/** One stream message's JSON body (docs/stream.md, "Message ids"). */
export interface StreamBody {
  chainId: number;
  contract: string;
  event: string;
  blockNumber: number;
  blockHash: string;
  /** Unix seconds; null while the stored row has none. */
  blockTimestamp: number | null;
  logIndex: number;
  txHash: string;
  address: string;
  /** By ABI argument name (unnamed: "0", "1" …), as stored: integers as decimal strings, tuples as objects. */
  args: Record<string, unknown>;
  removed: boolean;
  /** Put right by a verification's repair (and then possibly out of chain order); absent otherwise. */
  repair?: true;
}

/** What the stage publishes: subject, dedup id and body, positioned in the chain. */
export interface StreamMessage {
  subject: string;
  msgId: string;
  blockNumber: number;
  logIndex: number;
  body: StreamBody;
  /**
   * Which publication of this event occurrence (chain, block hash, log index) the message is, or
   * which publication it retracts: 1 for the first, 2 once the event is published again after its
   * retraction (an `indexer reset`, a reorg back to blocks seen before, a repair), and so on.
   */
  publication: number;
}

/** `<subject>.<chainId>.<Contract>.<Event>`: the config's contract name and the ABI's event name. */
export function eventSubject(subject: string, chainId: number, table: Pick<EventTable, 'contract' | 'event'>): string {
  return `${subject}.${chainId}.${table.contract}.${table.event.name}`;
}

/** Every subject of one chain: what the stage reconciles against and `indexer tail --chain` follows. */
export function chainSubjects(subject: string, chainId: number): string {
  return `${subject}.${chainId}.>`;
}

/**
 * `Nats-Msg-Id` (docs/stream.md, "Message ids"): `<chainId>:<blockHash>:<logIndex>` for an event occurrence's
 * first publication and `…:removed` for its retraction; the n-th publication (n ≥ 2) carries
 * `…:<n>` and its retraction `…:removed:<n>`. So an event published again after its retraction
 * is a new message, which JetStream's duplicate window never swallows, while a publication sent
 * again after a crash keeps its id and is dropped as the duplicate it is.
 */
export function messageId(body: Pick<StreamBody, 'chainId' | 'blockHash' | 'logIndex' | 'removed'>, publication = 1): string {
  const occurrence = `${body.chainId}:${body.blockHash}:${body.logIndex}${body.removed ? ':removed' : ''}`;
  return publication > 1 ? `${occurrence}:${publication}` : occurrence;
}

/** Which publication a message id names (or retracts): its trailing number, 1 without one. */
export function publicationOf(msgId: string): number {
  const match = /^\d+:[^:]+:\d+(?::removed)?:(\d+)$/.exec(msgId);
  return match ? Number(match[1]) : 1;
}

/**
 * A stored event as its stream message (its `publication`-th). The argument cells are already what
 * consumers get: node-pg returns numeric as decimal strings and jsonb (arrays, tuples) with
 * integers as decimal strings.
 */
export function eventMessage(subject: string, chainId: number, stored: StoredEvent, publication = 1): StreamMessage {
  const { table } = stored;
  const args: Record<string, unknown> = {};
  table.columns.forEach((column, i) => {
    args[column.param.name || String(i)] = stored.cells[i] ?? null;
  });
  const body: StreamBody = {
    chainId,
    contract: table.contract,
    event: table.event.name,
    blockNumber: stored.blockNumber,
    blockHash: stored.blockHash,
    blockTimestamp: stored.blockTimestamp,
    logIndex: stored.logIndex,
    txHash: stored.txHash,
    address: stored.address,
    args,
    removed: false,
  };
  return { subject: eventSubject(subject, chainId, table), msgId: messageId(body, publication), blockNumber: body.blockNumber, logIndex: body.logIndex, body, publication };
}

/** The retraction of a published event (of that publication): the same body with `removed: true`, on the same subject. */
export function retractionOf(message: Pick<StreamMessage, 'subject' | 'body' | 'publication'>): StreamMessage {
  const body = { ...message.body, removed: true };
  const { publication } = message;
  return { subject: message.subject, msgId: messageId(body, publication), blockNumber: body.blockNumber, logIndex: body.logIndex, body, publication };
}

/** A message read back from the stream, or null when it is not one of ours. */
export function parseBody(data: Uint8Array | string): StreamBody | null {
  try {
    const body = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data)) as StreamBody;
    if (typeof body?.chainId !== 'number' || typeof body.blockNumber !== 'number' || typeof body.logIndex !== 'number' || typeof body.blockHash !== 'string') return null;
    return body;
  } catch {
    return null;
  }
}
