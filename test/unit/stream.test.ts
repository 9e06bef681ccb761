import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { buildSpecs } from '../../src/config/resolve';
import { subjectCovers } from '../../src/stages/stream/connection';
import { messageId, publicationOf, retractionOf, type StreamBody } from '../../src/stages/stream/message';
import { parseNatsUrl } from '../../src/stages/stream/nats-url';
import { planReconcile } from '../../src/stages/stream/reconcile';
import type { StoredStreamMessage } from '../../src/stages/stream/connection';
import { StreamStage } from '../../src/stages/stream/state';

const body = (blockNumber: number, logIndex: number, blockHash = `0xb${blockNumber}`, removed = false): StreamBody => ({
  chainId: 1,
  contract: 'Token',
  event: 'Transfer',
  blockNumber,
  blockHash,
  blockTimestamp: null,
  logIndex,
  txHash: '0xt',
  address: '0xa',
  args: { value: '1' },
  removed,
});
let seq = 100;
const msg = (b: StreamBody): StoredStreamMessage => ({ seq: ++seq, subject: 's.1.Token.Transfer', msgId: messageId(b), body: b });
const at = (b: StreamBody) => ({ blockNumber: b.blockNumber, logIndex: b.logIndex, blockHash: b.blockHash });

test('reconcile: unrecorded events that are the next stored ones move the cursor', () => {
  const e = [body(5, 0), body(5, 1), body(6, 0)];
  const tail = [msg(e[0]!), msg(e[1]!)];
  const plan = planReconcile({ tail, outbox: [], nextEvents: e.map(at), storedHash: (b, l) => e.find((x) => x.blockNumber === b && x.logIndex === l)?.blockHash });
  assert.deepEqual(plan.cursor, { blockNumber: 5, logIndex: 1 });
  assert.equal(plan.seq, tail[1]!.seq);
  assert.deepEqual([plan.orphans, plan.outOfOrder, plan.retracted], [[], [], []]);
});

test('reconcile: published events a rollback removed since are owed a retraction; owed retractions already in the stream leave the outbox', () => {
  const canonical = [body(7, 0, '0xnew')];
  const retraction = retractionOf({ subject: 's.1.Token.Transfer', body: body(4, 0), publication: 1 });
  const tail = [msg(retraction.body), msg(body(7, 0, '0xold')), msg(body(8, 0, '0xold8'))];
  const plan = planReconcile({
    tail,
    outbox: [{ msgId: retraction.msgId }, { msgId: 'later' }],
    nextEvents: canonical.map(at),
    storedHash: (b) => (b === 7 ? '0xnew' : undefined),
  });
  assert.deepEqual(plan.retracted, [retraction.msgId]);
  assert.equal(plan.cursor, null);
  assert.deepEqual(plan.orphans.map((o) => o.msgId), ['1:0xold:0:removed', '1:0xold8:0:removed']);
  assert.equal(plan.orphans[0]!.body.removed, true);
  assert.equal(plan.seq, tail[2]!.seq);
});

test('message ids: the n-th publication of an event occurrence and its retraction carry n from the second on', () => {
  const event = body(9, 3, '0xabc');
  assert.deepEqual(
    [1, 2, 3].map((n) => [messageId(event, n), messageId({ ...event, removed: true }, n)]),
    [
      ['1:0xabc:3', '1:0xabc:3:removed'],
      ['1:0xabc:3:2', '1:0xabc:3:removed:2'],
      ['1:0xabc:3:3', '1:0xabc:3:removed:3'],
    ],
  );
  for (const n of [1, 2, 17]) {
    assert.equal(publicationOf(messageId(event, n)), n);
    assert.equal(publicationOf(messageId({ ...event, removed: true }, n)), n);
  }
  const second = retractionOf({ subject: 's.1.Token.Transfer', body: event, publication: 2 });
  assert.equal(second.msgId, '1:0xabc:3:removed:2');
});

test('reconcile: an unrecorded second publication that a rollback removed since is owed the second retraction', () => {
  const again = body(7, 0, '0xold');
  const tail: StoredStreamMessage[] = [{ seq: ++seq, subject: 's.1.Token.Transfer', msgId: messageId(again, 2), body: again }];
  const plan = planReconcile({ tail, outbox: [], nextEvents: [], storedHash: () => undefined });
  assert.deepEqual(plan.orphans.map((o) => [o.msgId, o.publication]), [['1:0xold:0:removed:2', 2]]);
});

test('reconcile: a message after one that never reached the stream is out of order, and so is all after it', () => {
  const e = [body(5, 0), body(5, 1), body(5, 2)];
  const tail = [msg(e[0]!), msg(e[2]!), msg(e[1]!)];
  const plan = planReconcile({ tail, outbox: [], nextEvents: e.map(at), storedHash: (b, l) => e.find((x) => x.blockNumber === b && x.logIndex === l)?.blockHash });
  assert.deepEqual(plan.cursor, { blockNumber: 5, logIndex: 0 });
  assert.deepEqual(plan.outOfOrder, [tail[1]!.seq, tail[2]!.seq]);
  assert.equal(plan.seq, tail[0]!.seq);
});

test('stream subjects: a stream captures <subject>.> through the same prefix or wildcards, not through a narrower one', () => {
  assert.ok(subjectCovers('indexer.demo.>', 'indexer.demo'));
  assert.ok(subjectCovers('indexer.>', 'indexer.demo'));
  assert.ok(subjectCovers('>', 'indexer.demo'));
  assert.ok(subjectCovers('indexer.*.>', 'indexer.demo'));
  assert.ok(!subjectCovers('indexer.demo.31337.>', 'indexer.demo'));
  assert.ok(!subjectCovers('indexer.other.>', 'indexer.demo'));
  assert.ok(!subjectCovers('indexer.demo', 'indexer.demo'));
});

test('NATS URLs: credentials apart from the servers, a label without them, malformed ones named without them', () => {
  const n = parseNatsUrl('nats://me:pw@10.0.0.5:4222, nats://10.0.0.6:4222', 'NATS_URL');
  assert.deepEqual(n.servers, ['nats://10.0.0.5:4222', 'nats://10.0.0.6:4222']);
  assert.deepEqual([n.user, n.pass, n.label], ['me', 'pw', 'nats://10.0.0.5:4222/…,nats://10.0.0.6:4222']);
  assert.equal(parseNatsUrl('tok@h:1', 'x').token, 'tok');
  assert.deepEqual(parseNatsUrl('127.0.0.1:4222', 'x').servers, ['nats://127.0.0.1:4222']);
  assert.throws(() => parseNatsUrl('nats://me:pw@h:99999', 'NATS_URL'), (e: Error) => /^NATS_URL: "nats:\/\/…@h:99999" is not a valid URL/.test(e.message) && !e.message.includes('pw'));
  assert.throws(() => parseNatsUrl('https://h', 'NATS_URL'), /is not a NATS URL/);
});

test('config: stream defaults, and what reaches the spec (never the URL)', () => {
  const base = { name: 'demo', chains: { local: { id: 1 } }, contracts: [{ name: 'T', chain: 'local', address: `0x${'1'.repeat(40)}`, abi: [{ type: 'event', name: 'E', inputs: [] }] }] };
  const [spec] = buildSpecs(parseConfig({ ...base, stream: { nats: { url: 'nats://u:secret@h:4222' } } }, '.'), () => undefined);
  assert.deepEqual(spec!.stream, { subject: 'indexer.demo', stream: 'INDEXER_DEMO', delivery: 'safe' });
  assert.ok(!JSON.stringify(spec).includes('secret'));
  const [plain] = buildSpecs(parseConfig(base, '.'), () => undefined);
  assert.equal('stream' in plain!, false, 'a config without a stream makes the same spec as before');
  assert.throws(() => parseConfig({ ...base, stream: { nats: { subject: 'a.*' } } }, '.'), /config\.stream\.nats\.subject: must be dot-separated tokens/);
  assert.throws(() => parseConfig({ ...base, stream: { delivery: 'fast' } }, '.'), /config\.stream\.delivery/);
});

test('stream stage state: safe delivery stops at the safe head; a rollback owes retractions; a stale summary cannot move the checkpoint above the ancestor', () => {
  const safe = new StreamStage({ subject: 's', stream: 'S', delivery: 'safe' }, -1);
  assert.equal(safe.bound(100, 90), 90);
  assert.equal(safe.bound(100, null), null);
  assert.equal(new StreamStage({ subject: 's', stream: 'S', delivery: 'instant' }, -1).bound(100, 90), 100);
  assert.ok(safe.wantsWork(90, false));
  assert.ok(!safe.wantsWork(90, true), 'not while the indexer is paused');
  safe.recordResult({ checkpoint: 90, published: 10, retracted: 0, durationMs: 1, caughtUp: true, retractionsPending: false }, 0, 90, 0);
  assert.ok(!safe.wantsWork(90, false));
  const epoch = safe.epoch;
  safe.rewound(80);
  assert.equal(safe.checkpoint, 80);
  assert.ok(safe.wantsWork(80, false), 'retractions owed even with nothing new to publish');
  safe.recordResult({ checkpoint: 90, published: 0, retracted: 0, durationMs: 1, caughtUp: true, retractionsPending: false }, epoch, 90, 1);
  assert.equal(safe.checkpoint, 80);
  assert.ok(safe.retractionsPending, 'a summary from before the rollback does not clear what it owes');
  safe.recordFailure('NATS at nats://h:4222 is unreachable', false);
  assert.equal(safe.paused, false);
  safe.recordFailure('stream S exists but …', true);
  assert.equal(safe.paused, true);
});
