import { RpcRequestError } from '../errors';
import type { BlockHeader, ChainRpc } from '../rpc/client';
import type { DecodedLog } from './log-router';

/** Header requests in flight at once when timestamps must come from headers. */
const HEADER_CONCURRENCY = 8;

/**
 * Block timestamps for logs whose RPC did not give `blockTimestamp` (it is newer than eth_getLogs):
 * from the headers the caller already has, else one header per block that has such logs. A header
 * of another fork than its logs means the chain moved between requests: retried, never stored.
 */
export async function fillBlockTimestamps(rpc: ChainRpc, logs: DecodedLog[], known: readonly BlockHeader[] = []): Promise<void> {
  const headers = new Map(known.map((h) => [h.number, h]));
  const missing = [...new Set(logs.filter((l) => l.blockTimestamp === null && !headers.has(l.blockNumber)).map((l) => l.blockNumber))];
  for (let i = 0; i < missing.length; i += HEADER_CONCURRENCY) {
    for (const header of await Promise.all(missing.slice(i, i + HEADER_CONCURRENCY).map((n) => rpc.getBlockHeader(n)))) headers.set(header.number, header);
  }
  for (const log of logs) {
    if (log.blockTimestamp !== null) continue;
    const header = headers.get(log.blockNumber)!;
    if (header.hash !== log.blockHash) {
      throw new RpcRequestError(`${rpc.label}: logs of block ${log.blockNumber} carry hash ${log.blockHash} but its header says ${header.hash}; the chain moved during the sync`);
    }
    log.blockTimestamp = header.timestamp;
  }
}
