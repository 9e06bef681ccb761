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

/** A configured address and topic0 whose log a block's bloom admits. */
export interface BloomPair {
  address: string;
  topic0: string;
}

/** The fields of a log the rule reads (a RawLog has them). */
export interface PairLog {
  address: string;
  topics: readonly string[];
}

/** Bits of items seen before: one keccak-256 per address or topic, not one per block or pair. */
const BITS_CACHE_LIMIT = 100_000;
const bitsCache = new Map<string, [number, number, number]>();

function cachedBits(item: string): [number, number, number] {
  let bits = bitsCache.get(item);
  if (!bits) {
    if (bitsCache.size >= BITS_CACHE_LIMIT) bitsCache.clear();
    bits = bloomBits(item as Hex);
    bitsCache.set(item, bits);
  }
  return bits;
}

/** Stands for every address in a filter without addresses (any address matches). */
const ANY = '*';

/**
 * The filter's addresses and topic0s with their bloom bits, for checking many blocks against one
 * eth_getLogs answer: which (address, topic0) pairs a block's bloom admits that the answer holds no
 * log of. Membership is computed per item and block (three bit tests), never per pair; the pairs
 * are counted, and listed only as far as asked: with thousands of addresses and a bloom that admits
 * almost everything, there are millions of them.
 */
export class BloomMatcher {
  private readonly addresses: Array<{ item: string; bits: readonly number[] }>;
  private readonly topics: Array<{ item: string; bits: readonly number[] }>;

  constructor(filter: { addresses: readonly string[]; topic0s: readonly string[] }) {
    const items = (list: readonly string[]) => [...new Set(list.map((s) => s.toLowerCase()))].map((item) => ({ item, bits: cachedBits(item) }));
    this.addresses = items(filter.addresses);
    this.topics = items(filter.topic0s);
  }

  /**
   * Pairs of a configured address and a configured topic0, both admitted by the bloom, for which
   * `logs` (the answer's logs of that block) hold no log: each a reason to think the answer left a
   * log out. At most `limit` of them (one is enough to call a block suspicious). A missing or
   * malformed bloom admits nothing here (it cannot contradict anything). A filter without addresses
   * (or topic0s) stands for any: the pair is then explained by any log of the topic0 (address).
   * Note what the bloom cannot see: a second log of a pair the answer holds one log of.
   */
  unexplained(logsBloom: string | Uint8Array | undefined, logs: Iterable<PairLog>, limit = Infinity): BloomPair[] {
    const bloom = typeof logsBloom === 'string' ? parseBloom(logsBloom) : logsBloom;
    if (!bloom || limit <= 0) return [];
    const admitted = (list: ReadonlyArray<{ item: string; bits: readonly number[] }>) => list.filter((x) => x.bits.every((bit) => hasBit(bloom, bit))).map((x) => x.item);
    const addresses = this.addresses.length === 0 ? [ANY] : admitted(this.addresses);
    if (addresses.length === 0) return [];
    const topics = this.topics.length === 0 ? [ANY] : admitted(this.topics);
    if (topics.length === 0) return [];
    const addressSet = new Set(addresses);
    const topicSet = new Set(topics);
    const explained = new Set<string>();
    for (const log of logs) {
      const address = this.addresses.length === 0 ? ANY : String(log.address).toLowerCase();
      const topic0 = this.topics.length === 0 ? ANY : String(log.topics[0] ?? '').toLowerCase();
      if (addressSet.has(address) && topicSet.has(topic0)) explained.add(`${address} ${topic0}`);
    }
    if (explained.size === addresses.length * topics.length) return [];
    const out: BloomPair[] = [];
    for (const address of addresses) {
      for (const topic0 of topics) {
        if (explained.has(`${address} ${topic0}`)) continue;
        out.push({ address, topic0 });
        if (out.length >= limit) return out;
      }
    }
    return out;
  }
}

/**
 * The suspicious-block rule (docs/endpoints.md, "Omitted logs: the bloom re-check"), for one block: the configured
 * (address, topic0) pairs its bloom admits minus those a log of the answer holds. Any pair left
 * means the block may hold a log the answer left out, even when the answer holds other logs of it.
 */
export function unexplainedPairs(
  logsBloom: string | undefined,
  filter: { addresses: readonly string[]; topic0s: readonly string[] },
  logs: Iterable<PairLog>,
  limit = Infinity,
): BloomPair[] {
  return new BloomMatcher(filter).unexplained(logsBloom, logs, limit);
}
