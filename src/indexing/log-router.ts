import { EventDecoder } from '../abi/decode';
import { eventTables, type EventTable } from '../abi/layout';
import { RpcRequestError } from '../errors';
import type { RawLog, LogFilter } from '../rpc/client';
import type { ContractSpec, IndexerSpec } from '../spec';

interface Route {
  contract: ContractSpec;
  decoder: EventDecoder;
}

export interface DecodedLog {
  table: string;
  blockNumber: number;
  blockHash: string;
  /** Unix seconds: the log's blockTimestamp where the RPC gives it, else filled from headers (block-fields.ts). */
  blockTimestamp: number | null;
  logIndex: number;
  txHash: string;
  txIndex: number | null;
  address: string;
  args: Array<string | boolean | null>;
  /** For contracts with `include: ["transaction"]`, filled from the transaction (block-fields.ts). */
  transaction?: { from: string; to: string | null; value: string };
}

/**
 * Sends each log to the table of the event it belongs to. A log is indexed only when its address
 * and topic0 belong to the same contract and its block is inside that contract's start/end.
 */
export class LogRouter {
  readonly tables: EventTable[];
  /** topic0 → address → route: two lookups, no key built per log. */
  private readonly routes = new Map<string, Map<string, Route>>();

  constructor(private readonly spec: IndexerSpec) {
    this.tables = [];
    for (const contract of spec.contracts) {
      for (const table of eventTables(contract.name, contract.events, { includeTransaction: contract.include?.includes('transaction') })) {
        this.tables.push(table);
        const decoder = new EventDecoder(table);
        let byAddress = this.routes.get(table.topic0);
        if (!byAddress) this.routes.set(table.topic0, (byAddress = new Map()));
        for (const address of contract.addresses) byAddress.set(address, { contract, decoder });
      }
    }
  }

  /** The getLogs filter for a block range: only contracts active somewhere in it. */
  filterFor(fromBlock: number, toBlock: number): LogFilter | undefined {
    const addresses = new Set<string>();
    const topic0s = new Set<string>();
    for (const contract of this.spec.contracts) {
      if (contract.startBlock > toBlock || (contract.endBlock !== undefined && contract.endBlock < fromBlock)) continue;
      contract.addresses.forEach((a) => addresses.add(a));
    }
    if (addresses.size === 0) return undefined;
    for (const table of this.tables) topic0s.add(table.topic0);
    return { fromBlock, toBlock, addresses: [...addresses], topic0s: [...topic0s] };
  }

  /** Decoded logs, or undefined for a log that matched the filter but not a (contract, event, block) route. */
  decode(log: RawLog): DecodedLog | undefined {
    const address = log.address.toLowerCase();
    const route = this.routes.get((log.topics[0] ?? '').toLowerCase())?.get(address);
    if (!route) return undefined;
    const blockNumber = quantity(log.blockNumber, 'blockNumber');
    const { contract } = route;
    if (blockNumber < contract.startBlock || (contract.endBlock !== undefined && blockNumber > contract.endBlock)) return undefined;
    const logIndex = quantity(log.logIndex, 'logIndex');
    const args = route.decoder.decode(log.topics, log.data, () => `log ${logIndex} of block ${blockNumber} from ${address}`);
    return {
      table: route.decoder.table.table,
      blockNumber,
      blockHash: log.blockHash.toLowerCase(),
      blockTimestamp: log.blockTimestamp === undefined || log.blockTimestamp === null ? null : quantity(log.blockTimestamp, 'blockTimestamp'),
      logIndex,
      txHash: log.transactionHash.toLowerCase(),
      txIndex: log.transactionIndex === undefined || log.transactionIndex === null ? null : quantity(log.transactionIndex, 'transactionIndex'),
      address,
      args,
    };
  }
}

/** A JSON-RPC quantity (`0x1b4`) as a number; Number() parses hex strictly, unlike parseInt. */
function quantity(hex: string, field: string): number {
  const value = Number(hex);
  if (!Number.isSafeInteger(value) || !hex.startsWith('0x')) throw new RpcRequestError(`a log has ${field} ${JSON.stringify(hex)}, not a hex quantity`);
  return value;
}
