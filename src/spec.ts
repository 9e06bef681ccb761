import type { StageSpecs } from './stages/configs';
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

/** The workflow input (docs/design.md): the indexer × chain's contracts and tuning, and each configured stage's section. */
export interface IndexerSpec extends StageSpecs {
  name: string;
  chainId: number;
  /** The key of the chain in the config (`local`, `mainnet` …). */
  chain: string;
  contracts: ContractSpec[];
  /** Block handlers' sources on this chain (config `blocks`): every `every` blocks from `startBlock`. */
  blocks?: BlockSourceSpec[];
  tuning: ChainTuning;
  verify?: { intervalMs?: number; maxChunksPerRun?: number };
}

export interface BlockSourceSpec {
  /** The config's name: handler key `"<name>:block"`. */
  name: string;
  every: number;
  startBlock: number;
  endBlock?: number;
}

/** The first block anything of the spec (a contract, a block source) is indexed from. */
export function specStartBlock(spec: Pick<IndexerSpec, 'contracts' | 'blocks'>): number {
  return Math.min(...spec.contracts.map((c) => c.startBlock), ...(spec.blocks ?? []).map((b) => b.startBlock));
}

/** Where indexing ends: the last endBlock when every contract and block source has one, else null (follow the head). */
export function specEndBlock(spec: Pick<IndexerSpec, 'contracts' | 'blocks'>): number | null {
  const sources = [...spec.contracts, ...(spec.blocks ?? [])];
  return sources.every((s) => s.endBlock !== undefined) ? Math.max(...sources.map((s) => s.endBlock!)) : null;
}

export function indexerWorkflowId(name: string, chainId: number): string {
  return `indexer:${name}:${chainId}`;
}

/**
 * A spec by reference: what every activity after prepareIndexer gets instead of the spec itself,
 * so history holds a few dozen bytes per range whatever the config's size (200 contracts, a 100 KB
 * ABI). prepareIndexer stores the spec under its hash in the indexer's `_specs`; workers look it up
 * there (and keep it in memory).
 */
export interface SpecRef {
  name: string;
  chainId: number;
  hash: string;
}

/** What activities accept on the wire: the spec, or a reference to it. */
export type SpecOrRef = IndexerSpec | SpecRef;

export function isSpecRef(spec: SpecOrRef): spec is SpecRef {
  return !('contracts' in spec);
}

/** The spec's reference. Deterministic and dependency-free, so workflow code computes it too. */
export function specRef(spec: IndexerSpec): SpecRef {
  return { name: spec.name, chainId: spec.chainId, hash: specHash(spec) };
}

/** A 64-bit hash of the spec's JSON (two 32-bit FNV-1a lanes) and its length, as hex. */
export function specHash(spec: IndexerSpec): string {
  const text = JSON.stringify(spec);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  return `${hex(a)}${hex(b)}-${text.length.toString(16)}`;
}

/** An activity input as it travels: the spec may be a reference to it (SpecRef). */
export type WithSpecRef<I> = I extends { spec: IndexerSpec } ? Omit<I, 'spec'> & { spec: SpecOrRef } : I;
