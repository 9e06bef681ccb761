import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import assert from 'node:assert/strict';
import type { StreamBody } from '../../src/stages/stream/message';

/** A message of the stream as a consumer sees it. */
export interface Seen {
  seq: number;
  subject: string;
  msgId: string;
  body: StreamBody;
  time: number;
}

export async function natsConnect(url: string): Promise<NatsConnection> {
  const u = new URL(url);
  return connect({ servers: `${u.hostname}:${u.port || 4222}`, user: u.username || undefined, pass: u.password || undefined, timeout: 5_000 });
}

/** Every message the stream holds on `filter`, in stream order, read with an ordered consumer as a user's consumer would. */
export async function readStream(nc: NatsConnection, stream: string, filter: string): Promise<Seen[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream).catch(() => null);
  if (!info || info.state.messages === 0) return [];
  const last = await jsm.streams.getMessage(stream, { last_by_subj: filter });
  if (!last) return [];
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const out: Seen[] = [];
  try {
    while (out.length === 0 || out[out.length - 1]!.seq < last.seq) {
      const batch = await consumer.fetch({ max_messages: 5_000, expires: 5_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', body: m.json<StreamBody>(), time: m.info.timestampNanos / 1e6 });
        if (m.seq >= last.seq) break;
      }
      if (got === 0) throw new Error(`stream ${stream}: could not read up to ${last.seq}`);
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return out;
}

const pos = (b: Pick<StreamBody, 'blockNumber' | 'logIndex'>) => `${b.blockNumber}:${b.logIndex}`;
const before = (a: StreamBody, b: StreamBody) => a.blockNumber < b.blockNumber || (a.blockNumber === b.blockNumber && a.logIndex < b.logIndex);

/**
 * Replays the stream as a consumer does (apply events, undo retractions) and checks the rules on
 * the way: each event once and after everything still live (chain order), each retraction undoes
 * the newest live event (newest first, before any event of the new fork), a message id is never
 * seen twice, and each publication and retraction carries its number. Returns the live events at
 * the end, the retractions seen, and how many events were published again after a retraction.
 */
export function replay(messages: readonly Seen[]): { live: StreamBody[]; retractions: StreamBody[]; republished: number; repaired: number } {
  const live: StreamBody[] = [];
  const retractions: StreamBody[] = [];
  const ids = new Set<string>();
  // DESIGN.md, "Stream": the n-th publication of an event occurrence carries `:<n>` and its n-th
  // retraction `:removed:<n>`, from n = 2 on.
  const published = new Map<string, number>();
  const retracted = new Map<string, number>();
  let republished = 0;
  let repaired = 0;
  for (const m of messages) {
    assert.ok(!ids.has(m.msgId), `message id ${m.msgId} appears twice (seq ${m.seq})`);
    ids.add(m.msgId);
    const occurrence = `${m.body.chainId}:${m.body.blockHash}:${m.body.logIndex}`;
    const counts = m.body.removed ? retracted : published;
    const n = (counts.get(occurrence) ?? 0) + 1;
    counts.set(occurrence, n);
    if (!m.body.removed && n > 1) republished += 1;
    if (m.body.removed) assert.equal(n, published.get(occurrence), `retraction at seq ${m.seq} is the ${n}th of ${occurrence}, published ${published.get(occurrence) ?? 0} times`);
    const expectedId = `${occurrence}${m.body.removed ? ':removed' : ''}${n > 1 ? `:${n}` : ''}`;
    assert.equal(m.msgId, expectedId, `Nats-Msg-Id of seq ${m.seq}`);
    assert.equal(m.subject.split('.').slice(-3).join('.'), `${m.body.chainId}.${m.body.contract}.${m.body.event}`, `subject of seq ${m.seq}`);
    const top = live[live.length - 1];
    if (m.body.repair) {
      // A repair's message (DESIGN.md, "A repair reaches every stage"): it may arrive out of chain
      // order; a retraction takes back that very event, a publication puts it in its place.
      const { repair: _, ...plain } = m.body;
      const at = live.findIndex((e) => e.blockNumber === plain.blockNumber && e.logIndex === plain.logIndex);
      if (plain.removed) {
        assert.ok(at >= 0, `repair retraction of ${pos(plain)} (seq ${m.seq}) with no such live event`);
        assert.deepStrictEqual({ ...plain, removed: false }, live[at], `repair retraction at seq ${m.seq} is not of the live event ${pos(plain)}`);
        live.splice(at, 1);
        retractions.push(plain);
      } else {
        assert.ok(at < 0, `repair publication of ${pos(plain)} (seq ${m.seq}) while one is live there`);
        const before = live.findIndex((e) => !(e.blockNumber < plain.blockNumber || (e.blockNumber === plain.blockNumber && e.logIndex < plain.logIndex)));
        live.splice(before < 0 ? live.length : before, 0, plain);
        repaired += 1;
      }
      continue;
    }
    if (m.body.removed) {
      assert.ok(top, `retraction of ${pos(m.body)} (seq ${m.seq}) with nothing live`);
      assert.deepStrictEqual({ ...m.body, removed: false }, top, `retraction at seq ${m.seq} is not of the newest live event ${pos(top)}`);
      live.pop();
      retractions.push(m.body);
    } else {
      if (top) assert.ok(before(top, m.body), `event ${pos(m.body)} (seq ${m.seq}) after ${pos(top)}: out of chain order or not retracted first`);
      live.push(m.body);
    }
  }
  return { live, retractions, republished, repaired };
}
