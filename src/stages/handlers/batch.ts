import type { EventTable } from '../../abi/layout';
import { specStartBlock } from '../../spec';
import { readCheckpoint } from '../../db/checkpoint';
import { isTransientDatabaseError } from '../../db/transient';
import { quoteIdent } from '../../db/identifiers';
import { lockChainHistoryShared } from '../../db/locks';
import { CommittedDespiteFailure, inPipelinedTransaction, type Pool, type PoolClient } from '../../db/pool';
import { WHOLE_BLOCK, lockStageCursor, saveStageCursor, stageCheckpoint, type StageCursor } from '../../db/stages';
import { HANDLERS_STAGE } from './derived-state';
import { notifyProgress } from '../../db/notify';
import { readStoredEvents, type StoredEvent } from '../../db/stored-events';
import { addUndoTriggers, derivedTablesWithoutUndoTriggers, installUndoTriggers, setHandledBlock, trimUndoLog } from './undo-log';
import { InvalidHandlersError, oneLine } from '../../errors';
import type { IndexerSpec } from '../../spec';
import { BatchDb, type StatementFailure } from './batch-db';
import { handlerEvent } from './event';
import { HANDLER_TYPES, databaseParameters } from './values';
import type { BoundHandlers, HandlerContext, HandlerDb } from './module';
import { ChainReads, type HandlerClient } from './chain-reads';
import type { ChainRpc } from '../../rpc/client';

/** A handler threw: which one, on which event, and why (docs/handlers.md: the lastError wording). */
export interface HandlerFailure {
  key: string;
  block: number;
  logIndex: number;
  message: string;
}

export function describeHandlerFailure(f: HandlerFailure): string {
  return `handler ${f.key} failed at block ${f.block} log ${f.logIndex}: ${f.message}`;
}

export interface BatchResult {
  /** Events that went through (with a handler or without one: the cursor passed them). */
  events: number;
  /** The last block whose events are all handled. */
  checkpoint: number;
  /** Nothing more to handle up to the bound this batch saw. */
  caughtUp: boolean;
  failure?: HandlerFailure;
  /** Where the next batch starts and the bound it may read to, unless this one caught up: the next batch reads its events with its first statements. */
  next?: NextBatch;
}

/**
 * How a batch runs beside the one before it (handlers/overlapped.ts keeps two in flight, each on
 * its own connection): it begins once that batch has read its events and holds the cursor's lock,
 * reads its own while that batch's handlers run, and runs its handlers while that batch writes
 * and commits.
 */
export interface Overlap {
  /** Told once, when this batch has read its events and holds the cursor's lock, where the batch after it starts (undefined: none). */
  onNext?: (next: NextBatch | undefined) => void;
  /** This batch's handlers wait for it: the batch before runs its own first. */
  after?: Promise<unknown>;
  /** Called once this batch's handlers have run (or it failed before): the batch after it may run its own. */
  onHandled?: () => void;
  /**
   * The batch before, over. When this one's events turn out not to be its own (that batch did
   * not commit where they start), it waits for that batch to end: if it failed, this one is
   * given up (BatchCancelled); otherwise it is handled again from where the cursor stands.
   */
  before?: Promise<BatchResult | undefined>;
}

/** A batch begun beside one that failed: rolled back, nothing of it committed. */
export class BatchCancelled extends Error {}

/** The events read ahead are not the batch's: the batch before did not commit where they start, or a rollback or setup came between. */
class EventsMoved extends Error {}

/** The steps of `Overlap` every attempt of a batch shares: each is taken once. */
interface Steps {
  tell: (next: NextBatch | undefined) => void;
  after: Promise<unknown> | undefined;
  handled: () => void;
}

/** Handled events between two turns of the event loop: the batch beside this one writes and commits meanwhile. */
const EVENTS_PER_TURN = 128;

/** The next batch's events as this batch left them: after its last event, up to its bound. */
export interface NextBatch {
  after: { block: number; logIndex: number };
  upTo: number;
}

export interface HandlersTarget {
  pool: Pool;
  spec: IndexerSpec;
  tables: readonly EventTable[];
  handlers: BoundHandlers;
  /** The chain's head as the workflow last saw it: what can still be reorganised is measured from it. */
  head?: number;
  /** The chain's endpoints, for handlers' reads of the chain (asked only on a read the cache cannot answer). */
  rpc?: () => ChainRpc;
}

/** `db` for setup: the batch's client, nothing else of it, its values exact as in handlers. */
function handlerDb(client: PoolClient): HandlerDb {
  return { query: async (text, values) => client.query({ text, values: databaseParameters(values), types: HANDLER_TYPES }) as never };
}

/** Runs setup with search_path = the indexer's schema and puts the undo triggers on the tables it made. */
export async function runSetup(client: PoolClient, target: Pick<HandlersTarget, 'spec' | 'tables' | 'handlers'>): Promise<void> {
  const { spec } = target;
  await client.query(`SET LOCAL search_path TO ${quoteIdent(spec.name)}`);
  if (target.handlers.setup) {
    await client.query('SAVEPOINT handlers_setup');
    try {
      await target.handlers.setup({ db: handlerDb(client) });
    } catch (error) {
      throw new InvalidHandlersError(`handlers setup failed: ${oneLine(error)}; fix setup in ${spec.handlers?.module ?? 'the handlers module'} and restart the workers`);
    }
    await client.query('RELEASE SAVEPOINT handlers_setup');
  }
  await installUndoTriggers(client, spec.name, target.tables.map((t) => t.table));
}

/** Thrown inside a batch's transaction when a handler fails, so the transaction rolls back. */
class HandlerThrew extends Error {
  constructor(
    readonly index: number,
    readonly failure: HandlerFailure,
  ) {
    super(failure.message);
  }
}

/** A store write that carried several events' changes failed: which event's change was wrong is found by handling the batch again, writing after every event. */
class StoreWriteFailed extends Error {}

/**
 * One transaction: up to `limit` stored events after the handlers' cursor (never past the stored
 * ingest checkpoint, nor `toBlock`), each through its handler in chain order, then the cursor.
 * A handler that throws rolls the batch back; the events before it are then handled again and
 * committed, so the cursor stands right before the failing event and `resume` retries exactly it.
 * `next`: the previous batch's `next`, so this one's events are read with its first statements
 * (that batch may still be running: see `Overlap`).
 */
export async function handleBatch(target: HandlersTarget, toBlock: number, limit: number, next?: NextBatch, overlap: Overlap = {}): Promise<BatchResult> {
  const steps: Steps = { tell: once((n: NextBatch | undefined) => overlap.onNext?.(n)), after: overlap.after, handled: once(() => overlap.onHandled?.()) };
  try {
    return await attempts(target, toBlock, limit, next, steps, overlap.before);
  } finally {
    steps.tell(undefined);
    steps.handled();
  }
}

/** `fn`, called at most once: later calls do nothing. */
function once<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  let called = false;
  return (...args) => {
    if (called) return;
    called = true;
    fn(...args);
  };
}

async function attempts(target: HandlersTarget, toBlock: number, limit: number, next: NextBatch | undefined, steps: Steps, prior: Overlap['before']): Promise<BatchResult> {
  const attempt = (events: number, exact = false, expected?: NextBatch) =>
    inPipelinedTransaction(target.pool, (client) => handleInTransaction(client, target, toBlock, events, exact, expected, steps)).catch((error: unknown) => {
      // Before this batch tries again: the one after it may hold the cursor's lock by now, and
      // lets it go only once its own handlers have run and found its events were not its own.
      steps.handled();
      if (error instanceof CommittedDespiteFailure) throw new Error(`a handlers batch ${oneLine(error)}: its events may be handled again; run indexer rebuild`);
      throw error;
    });
  let threw: unknown;
  try {
    return await attempt(limit, false, next);
  } catch (error) {
    threw = error;
  }
  if (threw instanceof EventsMoved) {
    // Not while the batch before may still be handling its events again (after its own failure).
    const ended = prior && (await prior.catch(() => undefined));
    if (prior && (!ended || ended.failure)) throw new BatchCancelled('the handlers batch before this one failed');
    try {
      return await attempt(limit);
    } catch (error) {
      threw = error;
    }
  }
  if (threw instanceof StoreWriteFailed) {
    try {
      return await attempt(limit, true);
    } catch (error) {
      threw = error;
    }
  }
  if (!(threw instanceof HandlerThrew)) throw threw;
  const failed = threw;
  const before = failed.index > 0 ? await attempt(failed.index) : undefined;
  if (before?.failure) return before;
  return { events: before?.events ?? 0, checkpoint: before?.checkpoint ?? failed.failure.block - 1, caughtUp: false, failure: failed.failure };
}

/** The batch's failure: the handler's (it pauses the stage), unless the database failed it (the activity retries). */
function handlerThrew(events: readonly StoredEvent[], handlers: BoundHandlers, { eventIndex, error }: StatementFailure): Error {
  if (isTransientDatabaseError(error)) return error as Error;
  if (eventIndex === undefined) return new StoreWriteFailed(oneLine(error));
  const event = events[eventIndex]!;
  const key = handlers.byTable.get(event.table.table)!.key;
  return new HandlerThrew(eventIndex, { key, block: event.blockNumber, logIndex: event.logIndex, message: oneLine(error) });
}

/** `exact`: the store writes after every event, so a failing write names its event (slow; only after a write of several events failed). */
async function handleInTransaction(
  client: PoolClient,
  target: HandlersTarget,
  toBlock: number,
  limit: number,
  exact: boolean,
  expected: NextBatch | undefined,
  steps: Steps,
): Promise<{ result: BatchResult; last: Promise<unknown> }> {
  const { spec, tables, handlers } = target;
  const startBlock = specStartBlock(spec);
  // Statements issued together go out together on the batch's pipelined connection (one round trip
  // per group instead of one per statement), and the server runs them in the order issued. The
  // events the last batch said come next are read before the cursor's lock, which waits for that
  // batch while it still runs: under the shared history lock no rollback or repair can change them
  // until this transaction ends, and they are this batch's if that batch commits where they start.
  const locked = lockChainHistoryShared(client, spec.name, spec.chainId);
  const checkpointRead = readCheckpoint(client, spec.name, spec.chainId);
  const searchPath = client.query(`SET LOCAL search_path TO ${quoteIdent(spec.name)}`);
  const readAhead = expected && readStoredEvents(client, spec.name, spec.chainId, tables, expected.after, expected.upTo, limit, spec.blocks);
  const cursorLocked = lockStageCursor(client, spec.name, spec.chainId, HANDLERS_STAGE, startBlock);
  // After the cursor's lock, so tables the batch before created are there: they get their undo
  // triggers before anything is written.
  const untriggeredRead = derivedTablesWithoutUndoTriggers(client, spec.name, tables.map((t) => t.table));
  cursorLocked.catch(() => undefined); // awaited below; when an earlier statement failed, so did they
  untriggeredRead.catch(() => undefined);
  const [, checkpoint, , ahead] = await Promise.all([locked, checkpointRead, searchPath, readAhead]);
  const stored = checkpoint ?? startBlock - 1;
  const upTo = Math.min(toBlock, stored);
  let cursor: StageCursor | undefined;
  let events: StoredEvent[];
  let readTo: number;
  let start: { block: number; logIndex: number };
  if (ahead && expected && expected.upTo <= upTo) {
    // The handlers run on them before the cursor is known (while the batch before commits); what
    // they issue queues behind the cursor's lock. Nothing is committed unless the cursor stands
    // where these events start (see `confirmed`).
    events = ahead;
    readTo = expected.upTo;
    start = expected.after;
  } else {
    const [locked, untriggered] = await Promise.all([cursorLocked, untriggeredRead]);
    cursor = locked;
    if (cursor.setupPending) {
      await runSetup(client, target); // puts the triggers on every derived table, its own new ones too
      cursor.setupPending = false;
    } else {
      await addUndoTriggers(client, spec.name, untriggered);
    }
    if (stageCheckpoint(cursor) >= upTo) {
      return { result: { events: 0, checkpoint: stageCheckpoint(cursor), caughtUp: true }, last: saveStageCursor(client, spec.name, spec.chainId, HANDLERS_STAGE, cursor) };
    }
    readTo = upTo;
    start = cursor;
    events = await readStoredEvents(client, spec.name, spec.chainId, tables, cursor, readTo, limit, spec.blocks);
  }
  // The events read ahead stand if the batch before committed where they start, and no setup or
  // new table came between (both need statements before the handlers'); otherwise the batch is
  // rolled back and read again. Checked before COMMIT, and before a handler's failure is believed.
  const confirmed = async (): Promise<StageCursor> => {
    if (cursor) return cursor;
    const [locked, untriggered] = await Promise.all([cursorLocked, untriggeredRead]);
    if (locked.block !== start.block || locked.logIndex !== start.logIndex || locked.setupPending || untriggered.length > 0) throw new EventsMoved();
    return locked;
  };
  const last = events[events.length - 1];
  const complete = events.length < limit;
  const position = complete ? { block: readTo, logIndex: WHOLE_BLOCK } : { block: last!.blockNumber, logIndex: last!.logIndex };
  const caughtUp = complete && readTo >= upTo;
  const next = caughtUp ? undefined : { after: position, upTo };
  // The batch after this one may begin once this one holds the cursor's lock, not before: begun
  // earlier, it could take the lock first (PostgreSQL does not queue row-lock waiters in order)
  // and then wait for this batch's handlers, whose statements wait for that lock.
  if (cursor) steps.tell(next);
  else cursorLocked.then(() => steps.tell(next), () => undefined);
  await steps.after;
  const db = new BatchDb(client, spec.name);
  const reads = new ChainReads(client, spec.name, spec.chainId, target.rpc ?? noChainReads(spec.name), { from: events[0]?.blockNumber ?? 0, to: last?.blockNumber ?? 0 });
  // Blocks this far below the head can no longer be reorganised: their changes are not recorded
  // (backfill pays no undo log), and the log is trimmed up to here. Measured from the head, not
  // the stored checkpoint, which a backfill's handlers follow closely (from it, they would record
  // every block and write their store once per block); never above the stored checkpoint, so a
  // head too high (an endpoint's, or one carried past a chain that got shorter) cannot leave
  // unhandled blocks unrecorded. Without a head yet, from the stored checkpoint.
  const reach = 2 * spec.tuning.maxReorgDepth + spec.tuning.confirmations;
  const final = Math.max(stored - reach, Math.min((target.head ?? stored) - reach, stored));
  let recording: number | null = null;
  reads.expect(events.map((event) => ({ key: handlers.byTable.get(event.table.table)?.key ?? '', block: event.blockNumber, hash: event.blockHash, event: () => handlerEvent(spec.chainId, event) })));
  try {
    recording = await runHandlers(client, target, db, reads, events, final, exact);
    // A read that failed (not a revert) fails the batch, whether or not a handler caught it.
    await reads.settled();
    if (reads.failure) throw reads.failure;
    // The batch after this one may run its handlers while this one writes its store and commits.
    // Not after handlers that sent statements of their own: those ran while the handlers did, and
    // the next batch's would only pile up behind its cursor's lock, thousands held in memory.
    if (db.statements === 0) steps.handled();
    await db.flushStore();
    const failed = (await db.settle()) ?? (await db.swallowedFailure());
    if (failed) throw handlerThrew(events, handlers, failed);
  } catch (error) {
    reads.close();
    await confirmed();
    throw error;
  }
  const saved: StageCursor = { ...(await confirmed()), ...position };
  const trim = final > saved.undoFrom;
  if (trim) saved.undoFrom = final;
  return {
    result: { events: events.length, checkpoint: stageCheckpoint(saved), caughtUp, ...(next ? { next } : {}) },
    last: Promise.all([
      recording !== null && setHandledBlock(client, spec.chainId, null),
      trim && trimUndoLog(client, spec.name, spec.chainId, final),
      saveStageCursor(client, spec.name, spec.chainId, HANDLERS_STAGE, saved),
      reads.save(),
      // The read API's subscribers learn of the batch when it commits (docs/api.md).
      events.length > 0 && notifyProgress(client, spec.name, { chainId: spec.chainId, checkpoint: stored, handlersCheckpoint: stageCheckpoint(saved), reorg: false }),
    ]),
  };
}

/** What a handler gets: the event, its `db` and `store`, and (made when first used) its `client`. */
function handlerContext(chainId: number, event: StoredEvent, index: number, dbAndStore: ReturnType<BatchDb['forEvent']>, reads: ChainReads, key: string): HandlerContext {
  let client: HandlerClient | undefined;
  return {
    event: handlerEvent(chainId, event),
    ...dbAndStore,
    get client() {
      client ??= reads.clientFor(`${key} (block ${event.blockNumber} log ${event.logIndex})`, index, event.blockNumber, event.blockHash);
      return client;
    },
  };
}

/** Where no endpoint is at hand (a test's batch): a read the cache cannot answer says so. */
function noChainReads(indexer: string): () => ChainRpc {
  return () => {
    throw new Error(`indexer ${indexer}: this worker has no RPC endpoint for the chain, and the read is not in the cache`);
  };
}

/**
 * Each event through its handler, in order; returns the block the undo log was left recording
 * (null: none). Changes to blocks above `final` are recorded under their block's mark.
 */
async function runHandlers(client: PoolClient, target: HandlersTarget, db: BatchDb, reads: ChainReads, events: readonly StoredEvent[], final: number, exact: boolean): Promise<number | null> {
  const { spec, handlers } = target;
  let block: number | null = null;
  let recording: number | null = null;
  for (const [index, event] of events.entries()) {
    // A turn of the event loop now and then: the batch beside this one reads its rows and sends its writes.
    if (index % EVENTS_PER_TURN === EVENTS_PER_TURN - 1) await new Promise<void>((resolve) => setImmediate(resolve));
    const bound = handlers.byTable.get(event.table.table);
    if (!bound) continue;
    if (event.blockNumber !== block) {
      block = event.blockNumber;
      const record = block > final ? block : null;
      if (record !== recording) {
        // The store's changes so far belong under the old mark; the mark is pipelined behind them.
        await db.flushStore();
        db.bookkeeping(index, () => setHandledBlock(client, spec.chainId, record));
      }
      recording = record;
    }
    try {
      await bound.handle(handlerContext(spec.chainId, event, index, db.forEvent(index), reads, bound.key));
      if (exact) {
        await db.flushStore();
        const failed = await db.settle();
        if (failed) throw handlerThrew(events, handlers, failed);
      }
    } catch (error) {
      if (error instanceof HandlerThrew) throw error;
      // A read of the chain that failed is not the handler's failure: the batch is handled again.
      if (reads.failure) throw reads.failure;
      // An earlier event's un-awaited statement may have failed first (and failed this one's).
      throw handlerThrew(events, handlers, (await db.settle()) ?? { eventIndex: index, error });
    }
  }
  return recording;
}
