/**
 * The indexing spec: the workflow's input, fixed for a run and visible in the Web UI.
 * Plain JSON, no secrets: RPC endpoints and the database URL are resolved by workers.
 * Types only, so workflow code can import it.
 */
import type { AbiEvent } from 'abitype';

export interface ContractSpec {
  name: string;
  /** Lowercase 0x addresses; empty for a contract whose addresses a factory names. */
  addresses: string[];
  /** The contract's instances are the addresses this factory event names, each from its creation block on. */
  factory?: FactorySpec;
  startBlock: number;
  endBlock?: number;
  /** `["transaction"]`: rows also carry the transaction's from, to and value. */
  include?: Array<'transaction'>;
  /** The selected events only. */
  events: AbiEvent[];
}

export interface FactorySpec {
  /** The factory's lowercase addresses. */
  addresses: string[];
  /** The factory's event, canonical (event-abi.ts). */
  event: AbiEvent;
  /** The event's address argument that names each new contract. */
  parameter: string;
}

export interface ChainTuning {
  confirmations: number;
  pollIntervalMs: number;
  maxBlockRange: number;
  maxInFlight: number;
  maxReorgDepth: number;
  /** Per RPC request; a hung request fails over to the next endpoint after this. */
  rpcTimeoutMs: number;
  /** Per endpoint and worker; unlimited when unset. */
  rpcRequestsPerSecond?: number;
  /** Addresses per eth_getLogs request (factories' children come in chunks of this many); 500 when unset. */
  maxAddressesPerRequest?: number;
  /**
   * Compare eth_getLogs answers with a second endpoint: every range, one in ten, or none. Unset:
   * "all" where the worker has two or more endpoints for the chain (only the worker knows).
   */
  crossCheck?: 'all' | 'sample' | 'off';
}

export interface IndexerSpec {
  name: string;
  chainId: number;
  /** The key of the chain in the config (`local`, `mainnet` …). */
  chain: string;
  contracts: ContractSpec[];
  tuning: ChainTuning;
  verify?: { intervalMs?: number; maxChunksPerRun?: number };
  /** User handlers (config `handlers`): the module's absolute path; workers import it from there. */
  handlers?: { module: string };
  /** Publish stored events to NATS JetStream (config `stream`); the server URL stays on the workers. */
  stream?: StreamSpec;
}

export interface StreamSpec {
  /** Messages go to `<subject>.<chainId>.<Contract>.<Event>`. */
  subject: string;
  /** The JetStream stream, created when missing with subjects `<subject>.>`. */
  stream: string;
  /** `safe`: only events at or below the safe head (head − confirmations); `instant`: as soon as stored. */
  delivery: 'safe' | 'instant';
}

export function indexerWorkflowId(name: string, chainId: number): string {
  return `indexer:${name}:${chainId}`;
}
