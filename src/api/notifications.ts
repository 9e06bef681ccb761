import pg from 'pg';
import type { Logger } from '../logger';
import type { Redactor } from '../redact';
import { metaSql, rollbacksOf, type CheckpointColumns, type MetaRow } from './meta';

/**
 * The `checkpoints` subscription's source: PostgreSQL notifications. Every handlers batch and every
 * rollback (reorg or `indexer reset`) commits a `NOTIFY indexer_<name>` with
 * `{"chainId","checkpoint","handlersCheckpoint","reorg"}`. One connection per server LISTENs on the
 * channel of every indexer it serves and fans each notification out to the subscriptions of that
 * indexer (and chain). PostgreSQL delivers a notification to a listener only if it was listening
 * when the transaction committed, so nothing is lost while the connection is up. When it drops,
 * the connection is made again (backoff up to 5 s), and whatever changed meanwhile is told to the
 * subscribers as one event per chain, read from the tables: `reorg: true` when a rollback committed
 * in the gap, so a client learns of it all the same.
 */

export interface CheckpointEvent {
  chainId: number;
  checkpoint: number;
  handlersCheckpoint: number | null;
  reorg: boolean;
}

/** The channel an indexer notifies on. */
export function channelOf(schema: string): string {
  return `indexer_${schema}`;
}

/** The notification payload, checked; undefined when it is not one. */
export function parseCheckpointEvent(payload: string | undefined): CheckpointEvent | undefined {
  if (!payload) return undefined;
  try {
    const value = JSON.parse(payload) as Record<string, unknown>;
    const int = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v);
    if (!int(value.chainId) || !int(value.checkpoint)) return undefined;
    if (value.handlersCheckpoint !== null && value.handlersCheckpoint !== undefined && !int(value.handlersCheckpoint)) return undefined;
    return {
      chainId: value.chainId as number,
      checkpoint: value.checkpoint as number,
      handlersCheckpoint: (value.handlersCheckpoint as number | null | undefined) ?? null,
      reorg: value.reorg === true,
    };
  } catch {
    return undefined;
  }
}

type Sink = (event: CheckpointEvent) => void;

interface ChainState {
  checkpoint: number;
  handlersCheckpoint: number | null;
  rollbacks: number;
}

interface Channel {
  schema: string;
  columns: () => CheckpointColumns | undefined;
  sinks: Set<{ chainId: number | null; push: Sink }>;
  /** Where each chain stood at the last notification or snapshot: what a reconnection compares with. */
  state: Map<number, ChainState>;
  /** Told about every notification (the schema watcher uses it to look for changes sooner). */
  onNotify?: () => void;
}

/** The largest backlog of events a subscription may hold before it is ended (a client that does not read). */
const MAX_QUEUE = 10_000;

export class CheckpointNotifications {
  private readonly channels = new Map<string, Channel>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 250;
  private closed = false;
  /** Whether the LISTEN connection is up. */
  connected = false;
  /** Counts notifications received and reconnections, for metrics. */
  onNotification?: (schema: string) => void;
  onReconnect?: () => void;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
    private readonly redactor: Redactor,
  ) {}

  /** Starts listening on an indexer's channel (idempotent). `columns` says which optional `_checkpoints` columns exist. */
  async add(schema: string, columns: () => CheckpointColumns | undefined, onNotify?: () => void): Promise<void> {
    if (this.channels.has(schema)) return;
    const channel: Channel = { schema, columns, sinks: new Set(), state: new Map(), onNotify };
    this.channels.set(schema, channel);
    if (!this.client && !this.connecting) return this.connect();
    // Connected, or connecting (whose LISTENs may have gone out before this channel was added):
    // LISTEN once it is up (twice is harmless).
    await this.connecting;
    const client = this.client;
    if (client && this.connected) {
      await client.query(`LISTEN "${channelOf(schema)}"`).catch(() => undefined);
      await this.snapshot(client, channel, false).catch(() => undefined);
    }
  }

  /** Stops listening on an indexer's channel; its subscriptions end. */
  async remove(schema: string): Promise<void> {
    const channel = this.channels.get(schema);
    if (!channel) return;
    this.channels.delete(schema);
    for (const sink of channel.sinks) sink.push = () => undefined;
    channel.sinks.clear();
    if (this.client && this.connected) await this.client.query(`UNLISTEN "${channelOf(schema)}"`).catch(() => undefined);
  }

  /** Resolves once the LISTEN connection is up (tests and start-up wait for it). */
  async ready(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connected && Date.now() < deadline && !this.closed) await new Promise((r) => setTimeout(r, 25));
    return this.connected;
  }

  /**
   * The events of one indexer (and one chain, or every chain when chainId is null) from now on, as
   * an async iterator (grafast's `listen` step consumes it; `return()` ends the subscription).
   */
  subscribe(schema: string, chainId: number | null): AsyncIterableIterator<CheckpointEvent> {
    const channel = this.channels.get(schema);
    const queue: CheckpointEvent[] = [];
    let waiting: ((result: IteratorResult<CheckpointEvent>) => void) | undefined;
    let done = false;
    let failure: Error | undefined;
    const entry = {
      chainId,
      push: (event: CheckpointEvent) => {
        if (done || (chainId !== null && event.chainId !== chainId)) return;
        if (waiting) {
          const resolve = waiting;
          waiting = undefined;
          resolve({ value: event, done: false });
        } else if (queue.length >= MAX_QUEUE) {
          failure = new Error(`the subscription fell ${MAX_QUEUE} events behind and was ended`);
          finish();
        } else {
          queue.push(event);
        }
      },
    };
    const finish = () => {
      done = true;
      channel?.sinks.delete(entry);
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        resolve({ value: undefined, done: true });
      }
    };
    channel?.sinks.add(entry);
    const iterator: AsyncIterableIterator<CheckpointEvent> = {
      [Symbol.asyncIterator]() {
        return iterator;
      },
      next() {
        const value = queue.shift();
        if (value) return Promise.resolve({ value, done: false });
        if (failure) return Promise.reject(failure);
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return() {
        finish();
        queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      throw(error?: unknown) {
        finish();
        return Promise.reject(error);
      },
    };
    return iterator;
  }

  /** How many subscriptions are open, per indexer (a gauge). */
  subscriptions(): Map<string, number> {
    return new Map([...this.channels].map(([schema, c]) => [schema, c.sinks.size]));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const channel of this.channels.values()) channel.sinks.clear();
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    await client?.end().catch(() => undefined);
  }

  private connect(): void {
    if (this.closed || this.connecting || this.client) return;
    this.connecting = this.open()
      .catch((error: unknown) => {
        const message = this.redactor.redact(String((error as Error)?.message ?? error));
        // Once per distinct failure, not at every retry while PostgreSQL is away.
        if (message !== this.lastFailure) this.logger.warn({ err: message }, 'notifications: cannot LISTEN yet; retrying');
        this.lastFailure = message;
        this.scheduleRetry();
      })
      .finally(() => {
        this.connecting = undefined;
      });
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), this.backoffMs);
    this.retryTimer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
  }

  private async open(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'temporal-evm-indexer-api-listen', keepAlive: true });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.connected = false;
      client.end().catch(() => undefined);
      if (!this.closed) {
        this.logger.warn({ err: error ? this.redactor.redact(error.message) : 'connection ended' }, 'notifications: LISTEN connection lost; reconnecting');
        this.scheduleRetry();
      }
    };
    client.on('error', (error) => lost(error));
    client.on('end', () => lost());
    client.on('notification', (message) => this.deliver(message.channel, message.payload));
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    const reconnection = this.everConnected;
    try {
      for (const channel of this.channels.values()) await client.query(`LISTEN "${channelOf(channel.schema)}"`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    this.connected = true;
    this.backoffMs = 250;
    this.lastFailure = undefined;
    // Listening now: read where every chain stands, and tell subscribers what changed while we were not.
    for (const channel of this.channels.values()) await this.snapshot(client, channel, reconnection).catch(() => undefined);
    if (reconnection) this.onReconnect?.();
    this.everConnected = true;
  }

  private everConnected = false;
  private lastFailure: string | undefined;

  private async snapshot(client: pg.Client, channel: Channel, tell: boolean): Promise<void> {
    // Only the checkpoints and rollbacks are read here: whether `head` and `mode` exist does not matter.
    const columns = channel.columns() ?? { head: false, mode: false };
    const { rows } = await client.query<MetaRow>(metaSql(channel.schema, columns));
    for (const row of rows) {
      const chainId = Number(row.chain_id);
      const now: ChainState = {
        checkpoint: Number(row.checkpoint),
        handlersCheckpoint: row.handlers_checkpoint === null ? null : Number(row.handlers_checkpoint),
        rollbacks: rollbacksOf(row),
      };
      const before = channel.state.get(chainId);
      channel.state.set(chainId, now);
      if (!tell || !before) continue;
      const reorg = now.rollbacks > before.rollbacks;
      if (reorg || now.checkpoint !== before.checkpoint || now.handlersCheckpoint !== before.handlersCheckpoint) {
        this.fanOut(channel, { chainId, checkpoint: now.checkpoint, handlersCheckpoint: now.handlersCheckpoint, reorg });
      }
    }
  }

  private deliver(channelName: string, payload: string | undefined): void {
    const channel = [...this.channels.values()].find((c) => channelOf(c.schema) === channelName);
    if (!channel) return;
    channel.onNotify?.();
    this.onNotification?.(channel.schema);
    const event = parseCheckpointEvent(payload);
    if (!event) {
      this.logger.warn({ channel: channelName }, 'notifications: ignored a payload that is not a checkpoint event');
      return;
    }
    const before = channel.state.get(event.chainId);
    channel.state.set(event.chainId, {
      checkpoint: event.checkpoint,
      handlersCheckpoint: event.handlersCheckpoint,
      rollbacks: (before?.rollbacks ?? 0) + (event.reorg ? 1 : 0),
    });
    this.fanOut(channel, event);
  }

  private fanOut(channel: Channel, event: CheckpointEvent): void {
    for (const sink of [...channel.sinks]) sink.push(event);
  }
}
