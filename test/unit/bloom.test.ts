import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hexToBytes, type Hex } from 'viem';
import { bloomAdmits, bloomBits, bloomContains } from '../../src/rpc/bloom';

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
