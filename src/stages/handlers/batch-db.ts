import type { PoolClient } from '../../db/pool';
import { isServerError } from '../../db/transient';
import type { HandlerDb } from './module';
import { RowStore, StoreFailed, type HandlerStore, type StoreFailure } from './store';
import { HANDLER_TYPES, databaseParameters } from './values';

/** Prepared statements kept per connection: handlers that build SQL text per event must not fill the server's memory. */
const MAX_NAMED_STATEMENTS = 256;

/** Statements written to the socket together: one syscall for many small messages, still sent while the handlers go on. */
const STATEMENTS_PER_WRITE = 128;

/** A statement that failed, and the event whose handler issued it (undefined: a store write that carried several events' changes). */
export interface StatementFailure {
  eventIndex: number | undefined;
  error: unknown;
}

/** Per connection: schema → text → prepared statement name, and how many names were handed out. */
const statementNames = new WeakMap<PoolClient, { bySchema: Map<string, Map<string, string>>; issued: number }>();

/**
 * A name for a statement with values, so the server parses and plans it once per connection
 * instead of once per event (a third of an upsert's cost). Keyed by schema too: two indexers
 * running the same text on their own tables must not share a plan. pg tracks what each
 * connection has prepared, and the server re-plans a statement when a table it uses changes.
 */
function statementName(client: PoolClient, schema: string, text: string): string | undefined {
  let names = statementNames.get(client);
  if (!names) {
    names = { bySchema: new Map(), issued: 0 };
    statementNames.set(client, names);
  }
  // By the text itself, not a key built from it: a handler passes the same string every time, whose hash V8 keeps.
  let byText = names.bySchema.get(schema);
  if (!byText) {
    byText = new Map();
    names.bySchema.set(schema, byText);
  }
  let name = byText.get(text);
  if (name === undefined && names.issued < MAX_NAMED_STATEMENTS) {
    name = `handler_${names.issued++}`;
    byText.set(text, name);
  }
  return name;
}

/** After pg failed to send a named statement (its values would not serialise, and pg closed it), the text gets a fresh name. */
function forgetStatementName(client: PoolClient, schema: string, text: string): void {
  statementNames.get(client)?.bySchema.get(schema)?.delete(text);
}

/**
 * What a handler gets back from `db.query`: a promise that knows whether the handler looked at it
 * (`await`, `then`, `catch`, `finally` all go through `then`). A failure the handler looked at
 * is the handler's to deal with (it may have rolled back to a savepoint); one it never looked at
 * fails the batch.
 */
class StatementResult<T> extends Promise<T> {
  observed = false;

  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  override then<A = T, B = never>(onFulfilled?: ((value: T) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    this.observed = true;
    return super.then(onFulfilled, onRejected);
  }
}

interface Issued {
  sequence: number;
  eventIndex: number;
  result: StatementResult<unknown>;
  error?: unknown;
}

/**
 * The `db` a batch's handlers get. Their statements go to the batch's connection in the order
 * they are issued; on a connection in pg's pipeline mode a statement is sent at once, so a handler
 * that does not need a result can leave it un-awaited and the next event starts while it runs.
 * The batch then waits for every statement before it commits (`settle`): the earliest one that
 * failed without its handler looking names the event it came from.
 */
export class BatchDb {
  private readonly pending: Array<Promise<unknown>> = [];
  private readonly failed: Issued[] = [];
  private storeFailure: { sequence: number; failure: StoreFailure } | undefined;
  private sequence = 0;
  /** Statements the handlers issued with `db.query`. */
  statements = 0;
  private readonly socket: { cork(): void; uncork(): void } | undefined;
  private corked = 0;
  /** Work that must keep its place in the order but waits for something first (a store flush reads rows): what is issued meanwhile queues behind it. */
  private lane: Promise<void> | undefined;
  readonly store: RowStore;

  constructor(
    private readonly client: PoolClient,
    private readonly schema: string,
  ) {
    const stream = (client as { connection?: { stream?: Partial<{ cork(): void; uncork(): void }> } }).connection?.stream;
    this.socket = stream?.cork && stream.uncork ? (stream as { cork(): void; uncork(): void }) : undefined;
    this.store = new RowStore(client, schema);
  }

  /** The `db` and `store` for one event's handler: what it issues is that event's. */
  forEvent(eventIndex: number): { db: HandlerDb; store: HandlerStore } {
    return {
      db: { query: (text, values) => this.statement(eventIndex, text, values) as never },
      store: this.store.forEvent(eventIndex, (failure) => this.recordStoreFailure(failure), (step) => this.inLane(step)),
    };
  }

  /** A statement of the indexer's own among the handlers' (same connection, same order), attributed to `eventIndex` if it fails. */
  bookkeeping(eventIndex: number, statement: () => Promise<unknown>): void {
    this.track(eventIndex, this.lane ? this.inLane(statement) : statement());
  }

  /**
   * Writes the store's changes and waits for it (nothing else runs meanwhile, so they are exactly
   * the changes made so far). Failures are recorded for `settle`.
   */
  async flushStore(): Promise<void> {
    if (this.store.dirty) await this.writeStore(true);
  }

  /**
   * A handler's statement. The store's changes so far are written before it (raw SQL may read or
   * change those rows), and the store forgets its rows (the statement may change them).
   */
  private statement(eventIndex: number, text: string, values?: unknown[]): Promise<unknown> {
    this.statements += 1;
    if (this.store.dirty) void this.writeStore(false);
    else this.store.forget();
    return this.track(eventIndex, this.lane ? this.inLane(() => this.send(text, values)) : this.send(text, values), text);
  }

  /** The store's changes so far, written in the lane (taken now: later changes are not in this write); a failure is recorded for `settle` at this place in the order. */
  private writeStore(keep: boolean): Promise<void> {
    const work = this.store.detach(keep);
    const sequence = this.sequence++;
    return this.inLane(() => this.store.write(work)).catch((error: unknown) => this.recordStoreFailure(asStoreFailure(error), sequence));
  }

  /** Runs `step` after everything queued in the lane; the lane empties once its last step is done. */
  private inLane<T>(step: () => Promise<T>): Promise<T> {
    const run = (this.lane ?? Promise.resolve()).then(step);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.lane = tail;
    this.pending.push(tail);
    void tail.then(() => {
      if (this.lane === tail) this.lane = undefined;
    });
    return run;
  }

  private recordStoreFailure(failure: StoreFailure, sequence = this.sequence++): void {
    if (!this.storeFailure || sequence < this.storeFailure.sequence) this.storeFailure = { sequence, failure };
  }

  private send(text: string, values?: unknown[]): Promise<unknown> {
    const name = values && values.length > 0 ? statementName(this.client, this.schema, text) : undefined;
    let prepared: unknown[] | undefined;
    try {
      prepared = databaseParameters(values);
    } catch (error) {
      // A value that cannot be written (a circular object) fails its statement, as pg's own would.
      return Promise.reject(error);
    }
    this.holdWrites();
    const query = { text, values: prepared, types: HANDLER_TYPES };
    return this.client.query(name ? { name, ...query } : query);
  }

  /**
   * A handler's statement (its `text`), or the indexer's own, as the handler sees it. Few promises
   * per statement: with AsyncLocalStorage on (activities run in one), each costs a hook call.
   */
  private track(eventIndex: number, sent: Promise<unknown>, text?: string): StatementResult<unknown> {
    const issued = { sequence: this.sequence++, eventIndex } as Issued;
    issued.result = new StatementResult<unknown>((resolve, reject) => {
      sent.then(resolve, (error: unknown) => {
        issued.error = error;
        this.failed.push(issued);
        // pg failed to send a named statement (its values would not serialise) and closed the name.
        if (text !== undefined && !isServerError(error)) forgetStatementName(this.client, this.schema, text);
        reject(error);
      });
    });
    // Marked handled without counting as the handler's look, so an un-awaited failure is never an
    // unhandled rejection (it was recorded above, and fails the batch in `settle`); settled once
    // the statement is, which is what `settle` waits for.
    this.pending.push(Promise.prototype.then.call(issued.result, undefined, () => undefined));
    return issued.result;
  }

  /**
   * pg writes each pipelined statement with a syscall of its own (a fifth of a backfill's CPU).
   * Corking the socket gathers them: written every STATEMENTS_PER_WRITE statements, and at the
   * latest once the handlers wait for anything (the corking ends on the next tick), so a
   * statement a handler awaits is never held back.
   */
  private holdWrites(): void {
    if (!this.socket) return;
    if (this.corked === 0) {
      this.socket.cork();
      process.nextTick(() => this.releaseWrites());
    } else if (this.corked >= STATEMENTS_PER_WRITE) {
      this.socket.uncork();
      this.socket.cork();
      this.corked = 0;
    }
    this.corked += 1;
  }

  private releaseWrites(): void {
    if (this.corked === 0) return;
    this.corked = 0;
    this.socket!.uncork();
  }

  /**
   * Waits for every statement issued so far, including any issued while waiting, and returns the
   * earliest-issued failure no handler looked at (the later ones are usually its consequence:
   * "current transaction is aborted").
   */
  async settle(): Promise<StatementFailure | undefined> {
    while (this.pending.length > 0) await Promise.all(this.pending.splice(0));
    const unobserved = this.failed.filter((f) => !f.result.observed).sort((a, b) => a.sequence - b.sequence)[0];
    if (this.storeFailure && (!unobserved || this.storeFailure.sequence < unobserved.sequence)) return this.storeFailure.failure;
    return unobserved && { eventIndex: unobserved.eventIndex, error: unobserved.error };
  }

  /**
   * After `settle` found nothing: a failure a handler looked at and swallowed without rolling back
   * to a savepoint leaves the transaction aborted, and the batch could not commit. That handler's
   * failure (the latest one a handler looked at), if so.
   */
  async swallowedFailure(): Promise<StatementFailure | undefined> {
    const looked = this.failed.filter((f) => f.result.observed && !isAbortedTransaction(f.error)).sort((a, b) => b.sequence - a.sequence)[0];
    if (!looked) return undefined;
    const aborted = await this.client.query('SELECT 1').then(
      () => false,
      (error: unknown) => isAbortedTransaction(error),
    );
    return aborted ? { eventIndex: looked.eventIndex, error: looked.error } : undefined;
  }
}

function asStoreFailure(error: unknown): StoreFailure {
  return error instanceof StoreFailed ? error.failure : { eventIndex: undefined, error };
}

/** 25P02: the statement was refused because an earlier one had aborted the transaction. */
function isAbortedTransaction(error: unknown): boolean {
  return isServerError(error) && error.code === '25P02';
}
