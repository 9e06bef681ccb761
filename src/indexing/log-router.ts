import { EventDecoder } from '../abi/decode';
import { eventTables, type EventTable } from '../abi/layout';
import { RpcRequestError } from '../errors';
import type { RawLog, LogFilter } from '../rpc/client';
import type { ContractSpec, IndexerSpec } from '../spec';

interface Route {
  contract: ContractSpec;
  decoder: EventDecoder;
}

/** Where an event sits on the chain: the fields every row carries before its arguments. */
export interface EventPosition {
  blockNumber: number;
  blockHash: string;
  /** Unix seconds: the log's blockTimestamp where the RPC gives it, else from headers (block-fields.ts); null in rows stored before the column existed. */
  blockTimestamp: number | null;
  logIndex: number;
  txHash: string;
  txIndex: number | null;
  address: string;
}

export interface DecodedLog extends EventPosition {
  table: string;
  args: Array<string | boolean | null>;
  /** For contracts with `include: ["transaction"]`, filled from the transaction (block-fields.ts). */
  transaction?: { from: string; to: string | null; value: string };
}

/** Where logs come from and what they become: the getLogs filters of a block range, and one log decoded. */
export interface LogSource<T extends { blockNumber: number; blockHash: string }> {
  /** One filter per chunk of addresses (providers cap address lists); none when nothing is active in the range. */
  filtersFor(fromBlock: number, toBlock: number): LogFilter[];
  decode(log: RawLog): T | undefined;
}

/** Addresses per eth_getLogs request unless the chain says otherwise (`maxAddressesPerRequest`). */
export const DEFAULT_MAX_ADDRESSES_PER_REQUEST = 500;

/** A contract a factory created, as a range sees it: its events count from its creation block on. */
export interface ChildRoute {
  contract: string;
  address: string;
  blockNumber: number;
}

interface Decoders {
  tables: EventTable[];
  /** contract → topic0 → decoder */
  byContract: Map<string, Map<string, EventDecoder>>;
}

/**
 * Sends each log to the table of the event it belongs to. A log is indexed only when its address
 * and topic0 belong to the same contract and its block is inside that contract's start/end (and,
 * for a factory's child, at or after the block that created it). Decoders are built once per spec;
 * `withChildren` makes a router for one range's known children that shares them.
 */
export class LogRouter implements LogSource<DecodedLog> {
  readonly tables: EventTable[];
  private readonly decoders: Decoders;
  /** topic0 → address → route: two lookups, no key built per log. */
  private readonly routes = new Map<string, Map<string, Route>>();
  /** address → the child and its contract (factory contracts only). */
  private readonly children = new Map<string, { contract: ContractSpec; from: number }>();
  private readonly maxAddresses: number;

  constructor(
    private readonly spec: IndexerSpec,
    children: readonly ChildRoute[] = [],
    decoders?: Decoders,
  ) {
    this.maxAddresses = spec.tuning.maxAddressesPerRequest ?? DEFAULT_MAX_ADDRESSES_PER_REQUEST;
    this.decoders = decoders ?? buildDecoders(spec);
    this.tables = this.decoders.tables;
    for (const contract of spec.contracts) {
      for (const [topic0, decoder] of this.decoders.byContract.get(contract.name) ?? []) {
        let byAddress = this.routes.get(topic0);
        if (!byAddress) this.routes.set(topic0, (byAddress = new Map()));
        for (const address of contract.addresses) byAddress.set(address, { contract, decoder });
      }
    }
    const byName = new Map(spec.contracts.map((c) => [c.name, c]));
    for (const child of children) {
      const contract = byName.get(child.contract);
      if (contract?.factory) this.children.set(child.address, { contract, from: child.blockNumber });
    }
  }

  /** This router with one range's known children (from `_factory_children`). */
  withChildren(children: readonly ChildRoute[]): LogRouter {
    return new LogRouter(this.spec, children, this.decoders);
  }

  /** Whether any contract's addresses come from a factory. */
  get hasFactories(): boolean {
    return this.spec.contracts.some((c) => c.factory);
  }

  /** The getLogs filters for a block range: contracts and children active somewhere in it, in address chunks. */
  filtersFor(fromBlock: number, toBlock: number): LogFilter[] {
    const active = (c: ContractSpec) => c.startBlock <= toBlock && (c.endBlock === undefined || c.endBlock >= fromBlock);
    const addresses = new Set<string>();
    for (const contract of this.spec.contracts) if (active(contract)) contract.addresses.forEach((a) => addresses.add(a));
    for (const [address, child] of this.children) if (child.from <= toBlock && active(child.contract)) addresses.add(address);
    if (addresses.size === 0) return [];
    const topic0s = [...new Set(this.tables.map((t) => t.topic0))];
    const list = [...addresses];
    const filters: LogFilter[] = [];
    for (let i = 0; i < list.length; i += this.maxAddresses) filters.push({ fromBlock, toBlock, addresses: list.slice(i, i + this.maxAddresses), topic0s });
    return filters;
  }

  /** Decoded logs, or undefined for a log that matched the filter but not a (contract, event, block) route. */
  decode(log: RawLog): DecodedLog | undefined {
    const address = log.address.toLowerCase();
    const topic0 = (log.topics[0] ?? '').toLowerCase();
    let route = this.routes.get(topic0)?.get(address);
    let from = route?.contract.startBlock ?? 0;
    if (!route) {
      const child = this.children.get(address);
      const decoder = child && this.decoders.byContract.get(child.contract.name)?.get(topic0);
      if (!child || !decoder) return undefined;
      route = { contract: child.contract, decoder };
      from = Math.max(child.contract.startBlock, child.from);
    }
    const blockNumber = quantity(log.blockNumber, 'blockNumber');
    const { contract } = route;
    if (blockNumber < from || (contract.endBlock !== undefined && blockNumber > contract.endBlock)) return undefined;
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

function buildDecoders(spec: IndexerSpec): Decoders {
  const tables: EventTable[] = [];
  const byContract = new Map<string, Map<string, EventDecoder>>();
  for (const contract of spec.contracts) {
    const decoders = new Map<string, EventDecoder>();
    for (const table of eventTables(contract.name, contract.events, { includeTransaction: contract.include?.includes('transaction') })) {
      tables.push(table);
      decoders.set(table.topic0, new EventDecoder(table));
    }
    byContract.set(contract.name, decoders);
  }
  return { tables, byContract };
}

/** A JSON-RPC quantity (`0x1b4`) as a number; Number() parses hex strictly, unlike parseInt. */
export function quantity(hex: string, field: string): number {
  const value = Number(hex);
  if (!Number.isSafeInteger(value) || !hex.startsWith('0x')) throw new RpcRequestError(`a log has ${field} ${JSON.stringify(hex)}, not a hex quantity`);
  return value;
}
