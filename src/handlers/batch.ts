import type { EventTable } from '../abi/layout';
import { readCheckpoint } from '../db/checkpoint';
import { isTransientDatabaseError } from '../db/transient';
import { quoteIdent } from '../db/identifiers';
import { lockChainHistory } from '../db/locks';
import { CommittedDespiteFailure, inPipelinedTransaction, type Pool, type PoolClient } from '../db/pool';
import { HANDLERS_STAGE, WHOLE_BLOCK, lockStageCursor, saveStageCursor, stageCheckpoint, type StageCursor } from '../db/stages';
import { readStoredEvents, type StoredEvent } from '../db/stored-events';
import { addUndoTriggers, derivedTablesWithoutUndoTriggers, installUndoTriggers, setHandledBlock, trimUndoLog } from '../db/undo-log';
import { InvalidHandlersError, oneLine } from '../errors';
import type { IndexerSpec } from '../spec';
import { BatchDb, type StatementFailure } from './batch-db';
import { handlerEvent } from './event';
import type { BoundHandlers, HandlerDb } from './module';

/** A handler threw: which one, on which event, and why (DESIGN.md's lastError wording). */
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
}

/** `db` for setup: the batch's client, nothing else of it. */
function handlerDb(client: PoolClient): HandlerDb {
  return { query: async (text, values) => client.query(text, values) as never };
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
 * `next`: the previous batch's `next`, so this one's events are read with its first statements.
 */
export async function handleBatch(target: HandlersTarget, toBlock: number, limit: number, next?: NextBatch): Promise<BatchResult> {
  const attempt = (events: number, exact = false, expected?: NextBatch) =>
    inPipelinedTransaction(target.pool, (client) => handleInTransaction(client, target, toBlock, events, exact, expected)).catch((error: unknown) => {
      if (error instanceof CommittedDespiteFailure) throw new Error(`a handlers batch ${oneLine(error)}: its events may be handled again; run indexer rebuild`);
      throw error;
    });
  let threw: unknown;
  try {
    return await attempt(limit, false, next);
  } catch (error) {
    threw = error;
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
): Promise<{ result: BatchResult; last: Promise<unknown> }> {
  const { spec, tables, handlers } = target;
  const startBlock = Math.min(...spec.contracts.map((c) => c.startBlock));
  const tableNames = tables.map((t) => t.table);
  // Statements issued together go out together on the batch's pipelined connection (one round trip
  // per group instead of one per statement); the server runs them in the order issued, so the
  // events are read under the lock, and are this batch's if the cursor is where the last batch left it.
  const [, cursor, checkpoint, untriggered, , readEarly] = await Promise.all([
    // Rollbacks and verification repairs take this lock too: a batch never sees half of one.
    lockChainHistory(client, spec.name, spec.chainId),
    lockStageCursor(client, spec.name, spec.chainId, HANDLERS_STAGE, startBlock),
    readCheckpoint(client, spec.name, spec.chainId),
    // Tables a handler created since the last batch get their triggers before anything is written.
    derivedTablesWithoutUndoTriggers(client, spec.name, tableNames),
    client.query(`SET LOCAL search_path TO ${quoteIdent(spec.name)}`),
    expected && readStoredEvents(client, spec.name, spec.chainId, tables, expected.after, expected.upTo, limit),
  ]);
  if (cursor.setupPending) {
    await runSetup(client, target); // puts the triggers on every derived table, its own new ones too
    cursor.setupPending = false;
  } else {
    await addUndoTriggers(client, spec.name, untriggered);
  }
  const stored = checkpoint ?? startBlock - 1;
  const upTo = Math.min(toBlock, stored);
  if (stageCheckpoint(cursor) >= upTo) {
    return { result: { events: 0, checkpoint: stageCheckpoint(cursor), caughtUp: true }, last: saveStageCursor(client, spec.name, spec.chainId, HANDLERS_STAGE, cursor) };
  }
  // Read early (under this transaction's lock, so current), the events stand for this batch only
  // if they start at its cursor and end within its bound: a rollback in between moves either.
  const early = expected && readEarly && expected.after.block === cursor.block && expected.after.logIndex === cursor.logIndex && expected.upTo <= upTo;
  const readTo = early ? expected.upTo : upTo;
  const events = early ? readEarly : await readStoredEvents(client, spec.name, spec.chainId, tables, cursor, readTo, limit);
  const db = new BatchDb(client, spec.name);
  // Blocks this far below the head can no longer be reorganised: their changes are not recorded
  // (backfill pays no undo log), and the log is trimmed up to here. Measured from the head, not
  // the stored checkpoint, which a backfill's handlers follow closely (from it, they would record
  // every block and write their store once per block); never above the stored checkpoint, so a
  // head too high (an endpoint's, or one carried past a chain that got shorter) cannot leave
  // unhandled blocks unrecorded. Without a head yet, from the stored checkpoint.
  const reach = 2 * spec.tuning.maxReorgDepth + spec.tuning.confirmations;
  const final = Math.max(stored - reach, Math.min((target.head ?? stored) - reach, stored));
  let block: number | null = null;
  let recording: number | null = null;
  for (const [index, event] of events.entries()) {
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
      await bound.handle({ event: handlerEvent(spec.chainId, event), ...db.forEvent(index) });
      if (exact) {
        await db.flushStore();
        const failed = await db.settle();
        if (failed) throw handlerThrew(events, handlers, failed);
      }
    } catch (error) {
      if (error instanceof HandlerThrew) throw error;
      // An earlier event's un-awaited statement may have failed first (and failed this one's).
      throw handlerThrew(events, handlers, (await db.settle()) ?? { eventIndex: index, error });
    }
  }
  await db.flushStore();
  const failed = (await db.settle()) ?? (await db.swallowedFailure());
  if (failed) throw handlerThrew(events, handlers, failed);
  const last = events[events.length - 1];
  const complete = events.length < limit;
  const next: StageCursor = complete ? { ...cursor, block: readTo, logIndex: WHOLE_BLOCK } : { ...cursor, block: last!.blockNumber, logIndex: last!.logIndex };
  const trim = final > next.undoFrom;
  if (trim) next.undoFrom = final;
  const caughtUp = complete && readTo >= upTo;
  return {
    result: { events: events.length, checkpoint: stageCheckpoint(next), caughtUp, ...(caughtUp ? {} : { next: { after: { block: next.block, logIndex: next.logIndex }, upTo } }) },
    last: Promise.all([
      recording !== null && setHandledBlock(client, spec.chainId, null),
      trim && trimUndoLog(client, spec.name, spec.chainId, final),
      saveStageCursor(client, spec.name, spec.chainId, HANDLERS_STAGE, next),
    ]),
  };
}
