import type { EventTable } from '../abi/layout';
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

/**
 * The transaction's from, to and value for logs of contracts with `include: ["transaction"]`, one
 * request per transaction, in JSON-RPC batches (only those contracts pay for them). A transaction
 * in another block than its logs means the chain moved between requests: retried, never stored.
 */
export async function fillTransactions(rpc: ChainRpc, logs: DecodedLog[], tables: readonly EventTable[]): Promise<void> {
  const wanted = new Set(tables.filter((t) => t.common.some((c) => c.name === 'tx_from')).map((t) => t.table));
  const needing = logs.filter((l) => wanted.has(l.table));
  if (needing.length === 0) return;
  const hashes = [...new Set(needing.map((l) => l.txHash))];
  const byHash = new Map((await rpc.getTransactions(hashes, Math.max(...needing.map((l) => l.blockNumber)))).map((tx) => [String(tx.hash).toLowerCase(), tx]));
  for (const log of needing) {
    const tx = byHash.get(log.txHash)!;
    if (String(tx.blockHash).toLowerCase() !== log.blockHash) {
      throw new RpcRequestError(`${rpc.label}: transaction ${log.txHash} is in block ${String(tx.blockHash)}, its logs in ${log.blockHash}; the chain moved during the sync`);
    }
    log.transaction = {
      from: String(tx.from).toLowerCase(),
      to: typeof tx.to === 'string' ? tx.to.toLowerCase() : null,
      value: BigInt(String(tx.value)).toString(),
    };
  }
}

/** Every block and transaction field a range's rows carry (docs/tables.md, "Block and transaction fields"). */
export async function fillBlockFields(rpc: ChainRpc, logs: DecodedLog[], tables: readonly EventTable[], headers: readonly BlockHeader[] = []): Promise<void> {
  await fillBlockTimestamps(rpc, logs, headers);
  await fillTransactions(rpc, logs, tables);
}
