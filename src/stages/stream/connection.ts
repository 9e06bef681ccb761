import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, JetStreamApiError, jetstream, jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { StreamConfigError, StreamDuplicateError, StreamUnavailableError, oneLine } from '../../errors';
import { parseBody, type StreamBody } from './message';
import type { NatsServers } from './nats-url';

/** A message of the stream as the stage reads it back (reconciling) or `indexer tail` shows it. */
export interface StoredStreamMessage {
  seq: number;
  subject: string;
  msgId: string | null;
  body: StreamBody | null;
}

/**
 * One NATS connection per publishing stage (indexer × chain) on this worker. Reconnection is off on
 * purpose: the server stores what one connection sends in the order it was sent, so a connection
 * that breaks leaves a prefix of it in the stream; a connection that reconnected would flush its
 * buffered publishes after a gap. A broken connection is dropped, and the next attempt reconciles
 * with the stream on a fresh one.
 */
export class NatsLink {
  private connecting: Promise<NatsConnection> | null = null;

  constructor(readonly servers: NatsServers) {}

  get label(): string {
    return this.servers.label;
  }

  async connection(): Promise<NatsConnection> {
    if (this.connecting) {
      const nc = await this.connecting.catch(() => null);
      if (nc && !nc.isClosed()) return nc;
    }
    const { servers, user, pass, token } = this.servers;
    this.connecting = connect({ servers, user, pass, token, reconnect: false, timeout: 5_000, name: 'temporal-evm-indexer', maxPingOut: 3, pingInterval: 10_000 });
    try {
      return await this.connecting;
    } catch (error) {
      this.connecting = null;
      throw new StreamUnavailableError(`NATS at ${this.label} is unreachable: ${describeNatsError(error)}`);
    }
  }

  /** Drops the connection (after a failed publish), so the next use starts on a fresh one. */
  async reset(): Promise<void> {
    const pending = this.connecting;
    this.connecting = null;
    const nc = await pending?.catch(() => null);
    await nc?.close().catch(() => undefined);
  }

  async manager(): Promise<JetStreamManager> {
    return jetstreamManager(await this.connection(), { timeout: 10_000 });
  }
}

/** The worker's NATS links, one per indexer × chain, closed with the worker. */
export class NatsLinks {
  private readonly links = new Map<string, NatsLink>();

  constructor(readonly servers: NatsServers) {}

  get(spec: { name: string; chainId: number }): NatsLink {
    const key = `${spec.name}:${spec.chainId}`;
    let link = this.links.get(key);
    if (!link) {
      link = new NatsLink(this.servers);
      this.links.set(key, link);
    }
    return link;
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.reset()));
  }
}

export function describeNatsError(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: unknown };
  const cause = e?.cause ? `: ${oneLine(e.cause)}` : '';
  return `${oneLine(error)}${cause}`.slice(0, 300);
}

/** Anything NATS threw while the stage talked to it, as the error the workflow should see. */
export function asStreamError(error: unknown, label: string): Error {
  if (error instanceof StreamUnavailableError || error instanceof StreamConfigError || error instanceof StreamDuplicateError) return error;
  return new StreamUnavailableError(`NATS at ${label}: ${describeNatsError(error)}`);
}

/** Does a stream subject (possibly with wildcards) capture every subject `pattern.>` does? */
export function subjectCovers(streamSubject: string, prefix: string): boolean {
  const have = streamSubject.split('.');
  const want = [...prefix.split('.'), '>'];
  for (let i = 0; i < have.length; i++) {
    if (have[i] === '>') return true;
    if (i >= want.length - 1) return false;
    if (have[i] !== '*' && have[i] !== want[i]) return false;
  }
  return false;
}

/**
 * The indexer's stream, created when missing (file storage, subjects `<subject>.>`, the server's
 * default duplicate window). An existing stream must capture those subjects; it is never altered.
 */
export async function ensureStream(jsm: JetStreamManager, name: string, subject: string): Promise<StreamInfo> {
  try {
    const info = await jsm.streams.info(name);
    const subjects = info.config.subjects ?? [];
    if (!subjects.some((s) => subjectCovers(s, subject))) {
      throw new StreamConfigError(
        `stream ${name} exists but its subjects (${subjects.join(', ') || 'none'}) do not capture ${subject}.>: add that subject to it, or set stream.nats.stream to another name`,
      );
    }
    return info;
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || !/stream not found/i.test(error.message)) throw error;
  }
  try {
    return await jsm.streams.add({ name, subjects: [`${subject}.>`] });
  } catch (error) {
    if (error instanceof JetStreamApiError && /overlap/i.test(error.message)) {
      throw new StreamConfigError(`cannot create stream ${name}: ${subject}.> overlaps the subjects of another stream; set stream.nats.subject or stream.nats.stream to match that stream`);
    }
    if (error instanceof JetStreamApiError && /already in use/i.test(error.message)) return jsm.streams.info(name);
    throw error;
  }
}

function toStored(m: { seq: number; subject: string; data: Uint8Array; header?: { get(k: string): string } }): StoredStreamMessage {
  return { seq: m.seq, subject: m.subject, msgId: m.header?.get('Nats-Msg-Id') || null, body: parseBody(m.data) };
}

/** The newest message on `filter` (a chain's subjects), or null when there is none. */
export async function lastMessageOn(jsm: JetStreamManager, stream: string, filter: string): Promise<StoredStreamMessage | null> {
  const m = await jsm.streams.getMessage(stream, { last_by_subj: filter });
  return m ? toStored({ seq: m.seq, subject: m.subject, data: m.data, header: m.header }) : null;
}

/**
 * The messages on `filter` with sequence `fromSeq`..`toSeq`, in stream order, through an ordered
 * consumer (it exists only while it reads). Used on the few messages a crash left unrecorded.
 */
export async function readMessages(nc: NatsConnection, stream: string, filter: string, fromSeq: number, toSeq: number): Promise<StoredStreamMessage[]> {
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq });
  const out: StoredStreamMessage[] = [];
  try {
    while (out.length === 0 || out[out.length - 1]!.seq < toSeq) {
      const batch = await consumer.fetch({ max_messages: Math.min(1_000, toSeq - fromSeq + 1), expires: 5_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        out.push(toStored({ seq: m.seq, subject: m.subject, data: m.data, header: m.headers }));
        if (m.seq >= toSeq) break;
      }
      if (got === 0) throw new StreamUnavailableError(`stream ${stream}: messages ${fromSeq}-${toSeq} on ${filter} could not be read back`);
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return out.filter((m) => m.seq <= toSeq);
}
