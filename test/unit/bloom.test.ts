import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hexToBytes, type Hex } from 'viem';
import { BloomMatcher, bloomAdmits, bloomBits, bloomContains, unexplainedPairs } from '../../src/rpc/bloom';

/**
 * A real header: anvil 1.7 block 2 after deploying test/fixtures/Emitter.sol and calling
 * emitMany(2, 7), which emits two Transfer logs from the first anvil account.
 */
const ANVIL_BLOCK = {
  logsBloom:
    '0x00000000000000000000000020000000000000000000000000000000080000000000000000000000000000000000000000000000000000000000000000000000800000000000000000000008000000000000000000000000000000000000000000000040000000000000040100000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000002000000000000000000000042000000200000000000000000000000002000000000000000000000000000000000000004000000000000000000000000000000000000000000000000',
  address: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
  topics: [
    '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef',
    '0x000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266',
    '0x0000000000000000000000000000000000000000000000000000000000001b58',
    '0x0000000000000000000000000000000000000000000000000000000000001b59',
  ],
};
const TRANSFER = ANVIL_BLOCK.topics[0]!;

test('the bloom of a real anvil block has exactly the bits of its log address and topics', () => {
  const expected = new Set([ANVIL_BLOCK.address, ...ANVIL_BLOCK.topics].flatMap((item) => bloomBits(item as Hex)));
  const bytes = hexToBytes(ANVIL_BLOCK.logsBloom as Hex);
  const set: number[] = [];
  for (let bit = 0; bit < 2048; bit++) if (bytes[255 - (bit >> 3)]! & (1 << (bit & 7))) set.push(bit);
  assert.deepEqual(set, [...expected].sort((a, b) => a - b));
});

test('bloomAdmits: the indexed address and topic0 are admitted, others are not', () => {
  const bloom = ANVIL_BLOCK.logsBloom;
  assert.equal(bloomAdmits(bloom, { addresses: [ANVIL_BLOCK.address], topic0s: [TRANSFER] }), true);
  // Checksummed input and several candidates: any one admitted is enough.
  assert.equal(bloomAdmits(bloom, { addresses: ['0x1111111111111111111111111111111111111111', '0x5FbDB2315678afecb367f032d93F642f64180aa3'], topic0s: [TRANSFER] }), true);
  assert.equal(bloomAdmits(bloom, { addresses: ['0x1111111111111111111111111111111111111111'], topic0s: [TRANSFER] }), false);
  assert.equal(bloomAdmits(bloom, { addresses: [ANVIL_BLOCK.address], topic0s: [`0x${'22'.repeat(32)}`] }), false);
  assert.equal(bloomContains(hexToBytes(bloom as Hex), ANVIL_BLOCK.topics[2] as Hex), true);
});

test('an empty bloom admits nothing, a full one everything, a missing or malformed one is unknown', () => {
  const filter = { addresses: [ANVIL_BLOCK.address], topic0s: [TRANSFER] };
  assert.equal(bloomAdmits(`0x${'00'.repeat(256)}`, filter), false);
  assert.equal(bloomAdmits(`0x${'ff'.repeat(256)}`, filter), true);
  assert.equal(bloomAdmits(undefined, filter), undefined);
  assert.equal(bloomAdmits('0x1234', filter), undefined);
});

/** A bloom with exactly the bits of these items (what a block holding logs of them has, and no others). */
function bloomOf(...items: string[]): string {
  const bytes = new Uint8Array(256);
  for (const item of items) for (const bit of bloomBits(item.toLowerCase() as Hex)) bytes[255 - (bit >> 3)]! |= 1 << (bit & 7);
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

const TOKEN = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const OTHER = '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512';
const APPROVAL = '0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925';
const log = (address: string, topic0: string) => ({ address, topics: [topic0, `0x${'00'.repeat(32)}`] });
const FILTER = { addresses: [TOKEN, OTHER], topic0s: [TRANSFER, APPROVAL] };

test('unexplainedPairs: other logs of the same contract do not explain an admitted topic0 the answer lacks', () => {
  // The block holds a Transfer and an Approval of TOKEN; the answer holds the Approval only.
  const bloom = bloomOf(TOKEN, TRANSFER, APPROVAL);
  assert.deepEqual(unexplainedPairs(bloom, FILTER, [log(TOKEN, APPROVAL)]), [{ address: TOKEN, topic0: TRANSFER }]);
  // Both present: nothing unexplained.
  assert.deepEqual(unexplainedPairs(bloom, FILTER, [log(TOKEN, APPROVAL), log(TOKEN, TRANSFER)]), []);
  // Checksummed and upper-case input match the answer's lower-case fields.
  const shouted = { addresses: ['0x5FbDB2315678afecb367f032d93F642f64180aa3'], topic0s: [TRANSFER.toUpperCase().replace('0X', '0x'), APPROVAL] };
  assert.deepEqual(unexplainedPairs(bloom, shouted, [log(TOKEN, APPROVAL), log(TOKEN, TRANSFER)]), []);
  assert.deepEqual(unexplainedPairs(bloom, shouted, [log(TOKEN, APPROVAL)]), [{ address: TOKEN, topic0: TRANSFER }]);
});

test('unexplainedPairs: the same address and topic0 present is not suspicious (a second such log is invisible to the bloom)', () => {
  const bloom = bloomOf(TOKEN, TRANSFER);
  assert.deepEqual(unexplainedPairs(bloom, FILTER, [log(TOKEN, TRANSFER)]), []);
  // The real anvil block: two Transfers of the token; one of them in the answer explains the block.
  assert.deepEqual(unexplainedPairs(ANVIL_BLOCK.logsBloom, { addresses: [ANVIL_BLOCK.address], topic0s: [TRANSFER] }, [ANVIL_BLOCK]), []);
  // And the same block with no log at all in the answer is suspicious (the rule before this one).
  assert.deepEqual(unexplainedPairs(ANVIL_BLOCK.logsBloom, { addresses: [ANVIL_BLOCK.address], topic0s: [TRANSFER] }, []), [{ address: ANVIL_BLOCK.address, topic0: TRANSFER }]);
});

test('unexplainedPairs: an address or topic0 the bloom does not admit, or no bloom at all, is not suspicious', () => {
  // The bloom admits TOKEN and Transfer only: (TOKEN, Approval), (OTHER, *) are not admitted.
  assert.deepEqual(unexplainedPairs(bloomOf(TOKEN, TRANSFER), FILTER, [log(TOKEN, TRANSFER)]), []);
  // Neither configured address admitted (the block's logs are another contract's).
  assert.deepEqual(unexplainedPairs(bloomOf('0x1111111111111111111111111111111111111111', TRANSFER, APPROVAL), FILTER, []), []);
  // The address admitted, no configured topic0.
  assert.deepEqual(unexplainedPairs(bloomOf(TOKEN, `0x${'22'.repeat(32)}`), FILTER, []), []);
  assert.deepEqual(unexplainedPairs(`0x${'00'.repeat(256)}`, FILTER, []), []);
  // No bloom (a node that does not serve one) or a malformed one: nothing to contradict the answer.
  assert.deepEqual(unexplainedPairs(undefined, FILTER, []), []);
  assert.deepEqual(unexplainedPairs('0x1234', FILTER, []), []);
});

test('unexplainedPairs: the pairs are admitted addresses × admitted topic0s minus those the logs hold; logs outside the filter explain nothing', () => {
  const bloom = bloomOf(TOKEN, OTHER, TRANSFER, APPROVAL);
  const pairs = (logs: Array<{ address: string; topics: string[] }>) => unexplainedPairs(bloom, FILTER, logs).map((p) => `${p.address === TOKEN ? 'token' : 'other'}:${p.topic0 === TRANSFER ? 'Transfer' : 'Approval'}`);
  assert.deepEqual(pairs([]), ['token:Transfer', 'token:Approval', 'other:Transfer', 'other:Approval']);
  assert.deepEqual(pairs([log(OTHER, TRANSFER), log(TOKEN, APPROVAL)]), ['token:Transfer', 'other:Approval']);
  assert.deepEqual(pairs([log(OTHER, TRANSFER), log(TOKEN, APPROVAL), log(OTHER, APPROVAL), log(TOKEN, TRANSFER)]), []);
  // A log of an address or topic the filter does not have (an unrelated log in the list) explains nothing.
  assert.deepEqual(pairs([log('0x1111111111111111111111111111111111111111', TRANSFER)]).length, 4);
  // limit: one is enough to call the block suspicious.
  assert.equal(unexplainedPairs(bloom, FILTER, [], 1).length, 1);
  // A full bloom admits every pair.
  assert.equal(unexplainedPairs(`0x${'ff'.repeat(256)}`, FILTER, [log(TOKEN, TRANSFER)]).length, 3);
});

test('BloomMatcher: thousands of addresses on a full bloom stay cheap (pairs counted, listed only up to the limit)', () => {
  const addresses = Array.from({ length: 5_000 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`);
  const matcher = new BloomMatcher({ addresses, topic0s: [TRANSFER, APPROVAL] });
  const full = hexToBytes(`0x${'ff'.repeat(256)}`);
  // Every pair explained but one: the block is suspicious, and the one pair is found.
  const logs = addresses.flatMap((a) => [log(a, TRANSFER), log(a, APPROVAL)]).filter((l) => !(l.address === addresses[4_321] && l.topics[0] === APPROVAL));
  const started = performance.now();
  for (let i = 0; i < 20; i++) assert.deepEqual(matcher.unexplained(full, logs, 1), [{ address: addresses[4_321], topic0: APPROVAL }]);
  // No logs at all: 10,000 pairs, one listed.
  for (let i = 0; i < 20; i++) assert.equal(matcher.unexplained(full, [], 1).length, 1);
  const perBlock = (performance.now() - started) / 40;
  assert.ok(perBlock < 50, `${perBlock.toFixed(2)} ms per block of 5,000 addresses`);
});
