import type { EventTable } from '../abi/layout';
import type { BlockHeader } from '../rpc/client';
import type { BlockSourceSpec, IndexerSpec } from '../spec';

/**
 * Block handlers' blocks (config `blocks`, docs/handlers.md "Block handlers"): every block
 * ≥ startBlock (and ≤ endBlock) with (number − startBlock) % every == 0. Ingest records them with
 * their hash and timestamp in `_interval_blocks`, in the range's transaction, in backfill and in
 * realtime; they are in the stored hash chain, rolled back with their blocks, and the handlers
 * stage handles them after every log of their block (as the pseudo-event `"<Name>:block"`).
 */

export interface IntervalBlock {
  source: string;
  number: number;
  hash: string;
  parentHash?: string;
  /** Unix seconds. */
  timestamp: number;
}

/**
 * Where a block handler's event stands in its block: after every log, below WHOLE_BLOCK (the
 * stage's "block done" mark), one position per source in the order of their names.
 */
export const BLOCK_EVENT_LOG_INDEX = 2_147_483_000;

/** The interval blocks of [fromBlock, toBlock], by block number: the sources due there. */
export function intervalBlockNumbers(sources: readonly BlockSourceSpec[], fromBlock: number, toBlock: number): Map<number, string[]> {
  const due = new Map<number, string[]>();
  for (const s of sources) {
    const last = Math.min(toBlock, s.endBlock ?? toBlock);
    const first = Math.max(fromBlock, s.startBlock);
    if (first > last) continue;
    // The first block of the range the source is due at.
    let n = first + ((s.every - ((first - s.startBlock) % s.every)) % s.every);
    for (; n <= last; n += s.every) {
      const list = due.get(n);
      if (list) list.push(s.name);
      else due.set(n, [s.name]);
    }
  }
  return due;
}

/**
 * The range's interval blocks, with hash and timestamp from the given headers where the range has
 * them (near the head), else from their own headers (asked a few at a time).
 */
export async function intervalBlocks(
  rpc: { getBlockHeader(n: number): Promise<BlockHeader> },
  spec: Pick<IndexerSpec, 'blocks'>,
  fromBlock: number,
  toBlock: number,
  headers?: ReadonlyMap<number, BlockHeader>,
): Promise<IntervalBlock[] | undefined> {
  if (!spec.blocks?.length) return undefined;
  const due = intervalBlockNumbers(spec.blocks, fromBlock, toBlock);
  const numbers = [...due.keys()].sort((a, b) => a - b);
  const out: IntervalBlock[] = [];
  for (let i = 0; i < numbers.length; i += 8) {
    const chunk = numbers.slice(i, i + 8);
    const got = await Promise.all(chunk.map((n) => headers?.get(n) ?? rpc.getBlockHeader(n)));
    for (const header of got) {
      for (const source of due.get(header.number)!) out.push({ source, number: header.number, hash: header.hash, parentHash: header.parentHash, timestamp: header.timestamp });
    }
  }
  return out;
}

/** The table a block source's pseudo-events come from, for the handlers' binding (`"<Name>:block"`): no table of the database. */
export function blockSourceTable(source: Pick<BlockSourceSpec, 'name'>): EventTable {
  return {
    contract: source.name,
    event: { type: 'event', name: 'block', inputs: [] } as unknown as EventTable['event'],
    signature: 'block',
    topic0: '0x',
    table: `_block:${source.name}`,
    common: [],
    columns: [],
  };
}

/** Whether a table is a block source's (blockSourceTable). */
export function isBlockSourceTable(table: Pick<EventTable, 'table'>): boolean {
  return table.table.startsWith('_block:');
}
