import { hexToBytes, keccak256, type Hex } from 'viem';

/**
 * A block header's `logsBloom` (yellow paper, M3:2048): every log of the block sets three of its
 * 2048 bits for its address and three for each topic, taken from the first three byte pairs of the
 * item's keccak-256 hash. A bit not set proves the item is absent; all three set only says "maybe"
 * (false positives are normal, on busy blocks almost everything is admitted).
 */

const BLOOM_BYTES = 256;
const HEX_BLOOM = /^0x[0-9a-fA-F]{512}$/;

/** The three bit positions (0 = least significant bit of the last byte) an item sets. */
export function bloomBits(item: Hex): [number, number, number] {
  const hash = hexToBytes(keccak256(item));
  const bit = (i: number) => ((hash[i]! << 8) | hash[i + 1]!) & 2047;
  return [bit(0), bit(2), bit(4)];
}

function hasBit(bloom: Uint8Array, bit: number): boolean {
  return (bloom[BLOOM_BYTES - 1 - (bit >> 3)]! & (1 << (bit & 7))) !== 0;
}

/** Whether the bloom may hold the item (an address or a topic, as 0x hex of its bytes). */
export function bloomContains(bloom: Uint8Array, item: Hex): boolean {
  return bloomBits(item).every((bit) => hasBit(bloom, bit));
}

export function parseBloom(logsBloom: string | undefined): Uint8Array | undefined {
  return logsBloom && HEX_BLOOM.test(logsBloom) ? hexToBytes(logsBloom as Hex) : undefined;
}

/**
 * Whether a block with this bloom may hold a log of the filter: one of the addresses AND one of the
 * topic0s (a log matches when both are its own; the bloom cannot tell whether they came from one
 * log, so this is a "maybe" too). Undefined bloom (a node that does not serve one): undefined.
 */
export function bloomAdmits(logsBloom: string | undefined, filter: { addresses: readonly string[]; topic0s: readonly string[] }): boolean | undefined {
  const bloom = parseBloom(logsBloom);
  if (!bloom) return undefined;
  const lower = (s: string) => s.toLowerCase() as Hex;
  const address = filter.addresses.length === 0 || filter.addresses.some((a) => bloomContains(bloom, lower(a)));
  if (!address) return false;
  return filter.topic0s.length === 0 || filter.topic0s.some((t) => bloomContains(bloom, lower(t)));
}
