/**
 * Comparing the eth_getLogs answers of several endpoints for one range. A log is identified by
 * (blockNumber, logIndex); a log any endpoint returned is kept (union), and an endpoint that lacks
 * a log another returned omitted it. Two answers that put one block at two hashes are on different
 * forks, and one log position with two different contents means one endpoint lies: neither can be
 * settled by a vote of two, so both are conflicts (the caller asks again).
 */

export type CrossCheckMode = 'all' | 'sample' | 'off';

export const CROSS_CHECK_MODES: readonly CrossCheckMode[] = ['all', 'sample', 'off'];

/** The fields of a log the merge reads (a RawLog has them all). */
export interface ComparableLog {
  blockNumber: string;
  blockHash: string;
  logIndex: string;
  transactionHash: string;
  address: string;
  topics: string[];
  data: string;
}

export interface LogAnswer<L extends ComparableLog> {
  /** Which endpoint answered (an index into the chain's endpoints). */
  source: number;
  logs: L[];
}

export interface MergedLogs<L extends ComparableLog> {
  logs: L[];
  /** Per source that lacked logs another returned: how many, and the blocks they were in. */
  omissions: Map<number, { logs: number; blocks: number[] }>;
  /** Set when the answers cannot be merged (different forks, or contradicting contents). */
  conflict?: string;
}

const num = (hex: string) => Number(BigInt(hex));
const key = (log: ComparableLog) => `${num(log.blockNumber)}:${num(log.logIndex)}`;

function sameLog(a: ComparableLog, b: ComparableLog): boolean {
  return (
    a.transactionHash.toLowerCase() === b.transactionHash.toLowerCase() &&
    a.address.toLowerCase() === b.address.toLowerCase() &&
    a.data.toLowerCase() === b.data.toLowerCase() &&
    a.topics.length === b.topics.length &&
    a.topics.every((t, i) => t.toLowerCase() === b.topics[i]!.toLowerCase())
  );
}

/** The union of the answers, in (blockNumber, logIndex) order, with who omitted what. */
export function mergeLogAnswers<L extends ComparableLog>(answers: ReadonlyArray<LogAnswer<L>>): MergedLogs<L> {
  const byKey = new Map<string, { log: L; sources: Set<number> }>();
  const blockHash = new Map<number, { hash: string; source: number }>();
  for (const answer of answers) {
    for (const log of answer.logs) {
      const block = num(log.blockNumber);
      const hash = log.blockHash.toLowerCase();
      const seen = blockHash.get(block);
      if (seen && seen.hash !== hash) {
        return { logs: [], omissions: new Map(), conflict: `block ${block} has hash ${seen.hash} at one endpoint and ${hash} at another (they are on different forks)` };
      }
      if (!seen) blockHash.set(block, { hash, source: answer.source });
      const k = key(log);
      const known = byKey.get(k);
      if (known && !sameLog(known.log, log)) {
        return { logs: [], omissions: new Map(), conflict: `log ${num(log.logIndex)} of block ${block} differs between endpoints` };
      }
      if (known) known.sources.add(answer.source);
      else byKey.set(k, { log, sources: new Set([answer.source]) });
    }
  }
  const omissions = new Map<number, { logs: number; blocks: number[] }>();
  for (const { log, sources } of byKey.values()) {
    for (const answer of answers) {
      if (sources.has(answer.source)) continue;
      const entry = omissions.get(answer.source) ?? { logs: 0, blocks: [] };
      entry.logs += 1;
      const block = num(log.blockNumber);
      if (!entry.blocks.includes(block)) entry.blocks.push(block);
      omissions.set(answer.source, entry);
    }
  }
  for (const entry of omissions.values()) entry.blocks.sort((a, b) => a - b);
  const logs = [...byKey.values()].map((v) => v.log).sort((a, b) => num(a.blockNumber) - num(b.blockNumber) || num(a.logIndex) - num(b.logIndex));
  return { logs, omissions };
}

/**
 * `crossCheck: "sample"` compares one range in ten. The choice depends on the range only, so a
 * retried range is sampled (or not) again, and neighbouring ranges are not sampled in lockstep.
 */
export function isSampled(fromBlock: number, toBlock: number, oneIn = 10): boolean {
  // FNV-1a over the two numbers' decimal text, then murmur3's finalizer so that every bit (and so
  // the remainder) depends on all of the input: cheap, deterministic, well spread.
  let hash = 0x811c9dc5;
  for (const ch of `${fromBlock}-${toBlock}`) {
    hash ^= ch.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return hash % oneIn === 0;
}

/** The mode a chain uses: its setting, else "all" with two or more endpoints (nothing to compare with one). */
export function effectiveCrossCheck(setting: CrossCheckMode | undefined, endpoints: number): CrossCheckMode {
  if (endpoints < 2) return 'off';
  return setting ?? 'all';
}

/** Blocks as short text for messages: `7, 9-12, 30`. */
export function describeBlocks(blocks: readonly number[], max = 6): string {
  const sorted = [...new Set(blocks)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.length > max ? `${parts.slice(0, max).join(', ')} …` : parts.join(', ');
}
