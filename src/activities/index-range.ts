import { RpcRequestError } from '../errors';
import { fillBlockFields } from '../indexing/block-fields';
import { intervalBlocks, type IntervalBlock } from '../indexing/interval-blocks';
import type { DecodedLog, LogRouter, LogSource } from '../indexing/log-router';
import { getHeaderChain, type BlockHeader, type ChainRpc, type RawLog } from '../rpc/client';
import { splitsRange } from '../rpc/policy';
import type { ActivityEnv } from './env';
import type { IndexRangeInput, IndexRangeResult } from './types';

/**
 * Backfill: one block range, fetched and decoded, written in one transaction with the block
 * hashes reorg detection needs and the range's completion record. Idempotent: a re-run replaces
 * whatever the range held.
 */
export async function indexRange(env: ActivityEnv, { spec, fromBlock, toBlock, trackHashesFrom }: IndexRangeInput): Promise<IndexRangeResult> {
  const started = Date.now();
  const rpc = env.rpcFor(spec);
  const { fetched, blocks, headers } = await fetchTrackedRange(rpc, await env.rangeRouter(spec, toBlock), fromBlock, toBlock, trackHashesFrom);
  const interval = await intervalBlocks(rpc, spec, fromBlock, toBlock, headers);
  const written = await env.storeRange(spec, { fromBlock, toBlock, logs: fetched.logs, blocks: withIntervalBlocks(blocks, interval), intervalBlocks: interval });
  const durationMs = Date.now() - started;
  env.metrics.range(spec, 'backfill', { logs: written.rows, durationMs, splits: fetched.splits });
  env.log().debug({ fromBlock, toBlock, logs: written.rows, splits: fetched.splits, durationMs }, 'range indexed');
  return { fromBlock, toBlock, logs: written.rows, splits: fetched.splits, acceptedRange: fetched.acceptedRange, durationMs, rpc: rpc.health(), notice: rpc.notice() };
}

export interface FetchedRange<T extends { blockNumber: number; blockHash: string } = DecodedLog> {
  logs: T[];
  blocks: Map<number, string>;
  splits: number;
  acceptedRange?: number;
}

/**
 * Fetches and decodes the logs of [from, to] (one request per address chunk of the source's
 * filters). When the RPC refuses a range as too large, or answers more logs than fit in memory at
 * once, the range is halved and both halves fetched, down to single blocks (the policy's
 * splitsRange: a refused single block is a real fault). With the range's headers
 * at hand, blocks whose logsBloom admits a configured address and topic0 the answer holds no log of
 * are asked again (ChainRpc.getLogs).
 */
export async function fetchRange<T extends { blockNumber: number; blockHash: string } = DecodedLog>(
  rpc: Pick<ChainRpc, 'getLogs'>,
  source: LogSource<T>,
  fromBlock: number,
  toBlock: number,
  options: { headers?: ReadonlyMap<number, BlockHeader> } = {},
): Promise<FetchedRange<T>> {
  const out: FetchedRange<T> = { logs: [], blocks: new Map(), splits: 0 };
  const pending: Array<[number, number]> = [[fromBlock, toBlock]];
  const split = (from: number, to: number) => {
    const mid = from + Math.floor((to - from) / 2);
    pending.unshift([from, mid], [mid + 1, to]);
    out.splits += 1;
  };
  while (pending.length > 0) {
    const [from, to] = pending.shift()!;
    const raw: RawLog[] = [];
    let refused = false;
    for (const filter of source.filtersFor(from, to)) {
      let answer: RawLog[];
      try {
        answer = await rpc.getLogs(filter, options);
      } catch (error) {
        if (splitsRange({ from, to }, { error })) {
          refused = true;
          break;
        }
        throw error;
      }
      raw.push(...answer);
      // Too dense to hold at once: halved like a provider's refusal, and the workflow shrinks its ranges.
      if (splitsRange({ from, to }, { logs: raw.length })) {
        refused = true;
        break;
      }
    }
    if (refused) {
      split(from, to);
      continue;
    }
    if (out.splits > 0) out.acceptedRange = Math.max(out.acceptedRange ?? 0, to - from + 1);
    for (const log of raw) {
      const decoded = source.decode(log);
      if (!decoded) continue;
      out.logs.push(decoded);
      const known = out.blocks.get(decoded.blockNumber);
      if (known && known !== decoded.blockHash) {
        // Two hashes for one block inside one range: the node switched forks mid-query.
        throw new RpcRequestError(`logs of block ${decoded.blockNumber} carry two block hashes; the chain reorganised during the query`);
      }
      out.blocks.set(decoded.blockNumber, decoded.blockHash);
    }
  }
  return out;
}

/**
 * A backfill range: its logs, and the block hashes to store. Near the head (blocks at or above
 * `trackFrom`, where reorgs happen) the header chain is fetched first, so that its logsBloom can
 * contradict an answer that left logs out, and stored whole.
 */
export async function fetchTrackedRange(
  rpc: ChainRpc,
  router: LogRouter,
  fromBlock: number,
  toBlock: number,
  trackFrom: number | undefined,
): Promise<{ fetched: FetchedRange; blocks: Array<{ number: number; hash: string; parentHash?: string }>; headers?: ReadonlyMap<number, BlockHeader> }> {
  const headers = trackFrom !== undefined && toBlock >= trackFrom ? await getHeaderChain(rpc, Math.max(fromBlock, trackFrom), toBlock) : [];
  const byNumber = headers.length > 0 ? new Map(headers.map((h) => [h.number, h])) : undefined;
  const fetched = await fetchRange(rpc, router, fromBlock, toBlock, byNumber ? { headers: byNumber } : {});
  await fillBlockFields(rpc, fetched.logs, router.tables, headers);
  return { fetched, blocks: hashesToStore(rpc, fetched, headers), headers: byNumber };
}

/** The range's block hashes to store, and the block handlers' blocks' (they are in the stored hash chain too). */
export function withIntervalBlocks(
  blocks: Array<{ number: number; hash: string; parentHash?: string }>,
  interval: readonly IntervalBlock[] | undefined,
): Array<{ number: number; hash: string; parentHash?: string }> {
  if (!interval?.length) return blocks;
  const byNumber = new Map(blocks.map((b) => [b.number, b]));
  for (const b of interval) if (!byNumber.has(b.number)) byNumber.set(b.number, { number: b.number, hash: b.hash, parentHash: b.parentHash });
  return [...byNumber.values()];
}

/**
 * Block hashes to store for a range: every block with logs, and the given header chain. Logs must
 * carry the hash of the header of their block, or the chain moved between requests (or two
 * endpoints are on different forks) and the range is fetched again: such logs are never stored.
 */
export function hashesToStore(rpc: ChainRpc, fetched: FetchedRange, headers: readonly BlockHeader[]): Array<{ number: number; hash: string; parentHash?: string }> {
  const blocks = new Map<number, { number: number; hash: string; parentHash?: string }>();
  for (const [number, hash] of fetched.blocks) blocks.set(number, { number, hash });
  for (const header of headers) {
    const fromLogs = fetched.blocks.get(header.number);
    if (fromLogs && fromLogs !== header.hash) {
      throw new RpcRequestError(`${rpc.label}: logs of block ${header.number} carry hash ${fromLogs} but its header says ${header.hash}; the chain moved during the sync`);
    }
    blocks.set(header.number, { number: header.number, hash: header.hash, parentHash: header.parentHash });
  }
  return [...blocks.values()];
}
