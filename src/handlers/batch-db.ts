import type { PoolClient } from '../db/pool';
import type { HandlerDb } from './module';

/** Prepared statements kept per connection: handlers that build SQL text per event must not fill the server's memory. */
const MAX_NAMED_STATEMENTS = 256;

/** Statements written to the socket together: one syscall for many small messages, still sent while the handlers go on. */
const STATEMENTS_PER_WRITE = 128;

/** A statement that failed, and the event whose handler issued it. */
export interface StatementFailure {
  eventIndex: number;
  error: unknown;
}

const statementNames = new WeakMap<PoolClient, Map<string, string>>();

/**
 * A name for a statement with values, so the server parses and plans it once per connection
 * instead of once per event (a third of an upsert's cost). pg tracks what each connection has
 * prepared, and the server re-plans a statement by itself when a table it uses changes.
 */
function statementName(client: PoolClient, text: string): string | undefined {
  let names = statementNames.get(client);
  if (!names) {
    names = new Map();
    statementNames.set(client, names);
  }
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
    name = `handler_${names.size}`;
    names.set(text, name);
  }
  return name;
}

/**
 * The `db` a batch's handlers get. Their statements go to the batch's connection in the order
 * they are issued; on a connection in pg's pipeline mode a statement is sent at once, so a handler
 * that does not need a result can leave it un-awaited and the next event starts while it runs.
 * The batch then waits for every statement before it commits (`settle`), and the first one that
 * failed names the event it came from, whether its handler awaited it or not.
 */
export class BatchDb {
  private readonly inFlight: Array<Promise<unknown>> = [];
  private firstFailure: StatementFailure | undefined;
  private readonly socket: { cork(): void; uncork(): void } | undefined;
  private corked = 0;

  constructor(private readonly client: PoolClient) {
    const stream = (client as { connection?: { stream?: Partial<NodeJS.WritableStream & { cork(): void; uncork(): void }> } }).connection?.stream;
    this.socket = stream?.cork && stream.uncork ? (stream as { cork(): void; uncork(): void }) : undefined;
  }

  /** The `db` for one event's handler: what it issues is that event's. */
  forEvent(eventIndex: number): HandlerDb {
    return { query: (text, values) => this.issue(eventIndex, text, values) as never };
  }

  private issue(eventIndex: number, text: string, values?: unknown[]): Promise<unknown> {
    const name = values && values.length > 0 ? statementName(this.client, text) : undefined;
    this.holdWrites();
    const result = this.client.query(name ? { name, text, values } : { text, values });
    // Noted here, so an un-awaited statement's failure is never an unhandled rejection; the
    // handler still sees the rejection when it awaits.
    this.inFlight.push(
      result.catch((error: unknown) => {
        this.firstFailure ??= { eventIndex, error };
      }),
    );
    return result;
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

  /** Waits for every statement issued so far: the first failure (pipelined statements fail in order), if any. */
  async settle(): Promise<StatementFailure | undefined> {
    await Promise.all(this.inFlight.splice(0));
    return this.firstFailure;
  }
}
