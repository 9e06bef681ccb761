import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { ChainIdMismatchError, RangeTooLargeError, RpcRequestError, oneLine } from '../errors';
import { Redactor } from '../redact';
import { Endpoint, type EndpointHealth, type EndpointOptions } from './endpoint';

export type { EndpointHealth };

export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  transactionIndex?: string;
  /** Not every RPC gives it (it is newer than eth_getLogs); headers have it otherwise. */
  blockTimestamp?: string;
  logIndex: string;
  removed?: boolean;
}

export interface BlockHeader {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
}

export interface LogFilter {
  fromBlock: number;
  toBlock: number;
  addresses: string[];
  topic0s: string[];
}

/** Messages providers use when a getLogs range is too big for them. */
const RANGE_REFUSAL = /more than \d+ results|too many (results|logs|blocks)|block range|range (is )?too (large|wide|big)|exceed(s|ed)? .*(range|size)|response (size|too large)|query timeout|max.*range|log response size/i;

/** Rate limiting wears many codes (429, -32005, -32029 …): whatever its code, it is the endpoint's fault, not the range's. */
const RATE_LIMITED = /rate|too many requests|capacity|throttl|429/i;

const HEX = /^0x[0-9a-fA-F]*$/;
const HASH = /^0x[0-9a-fA-F]{64}$/;

/**
 * One chain's JSON-RPC access over one or more endpoints, with failover in order of health and
 * latency. Every error that leaves it is ours, with endpoints shown only by their redacted labels:
 * viem's messages quote full URLs, which may carry API keys.
 */
export class ChainRpc {
  readonly chainId: number;
  readonly labels: string[];
  private readonly endpoints: Endpoint[];
  private readonly redactor = new Redactor();

  constructor(chainId: number, urls: string[], options: Partial<EndpointOptions> = {}) {
    this.chainId = chainId;
    for (const url of urls) this.redactor.addUrl(url);
    this.endpoints = urls.map((url) => new Endpoint(url, { timeoutMs: 30_000, ...options }));
    this.labels = this.endpoints.map((e) => e.label);
  }

  get label(): string {
    return this.labels.join(', ');
  }

  /** Breaker state and counters per endpoint, for status and metrics. */
  health(): EndpointHealth[] {
    return this.endpoints.map((e) => e.health);
  }

  redact(text: string): string {
    return this.redactor.redact(text);
  }

  /**
   * Tries the endpoints best first until one answers (and its answer passes `check`); when all
   * fail, tries again twice after a short pause. One lost request among the dozens an activity
   * makes should cost milliseconds, not the whole activity (Temporal's retries are for outages).
   */
  private call<T>(method: string, params: unknown[], check?: (result: T) => string | undefined): Promise<T> {
    return this.retry.execute(() => this.callOnce(method, params, check));
  }

  private readonly retry = retry(
    handleWhen((error) => !(error instanceof RangeTooLargeError)),
    { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) },
  );

  private async callOnce<T>(method: string, params: unknown[], check?: (result: T) => string | undefined): Promise<T> {
    const failures: Array<{ label: string; error: Error }> = [];
    const ordered = [...this.endpoints].sort((a, b) => a.rank() - b.rank());
    for (const endpoint of ordered) {
      try {
        return await endpoint.call<T>(method, params, (error) => this.classify(method, endpoint.label, error), check);
      } catch (error) {
        if (error instanceof RangeTooLargeError) throw error;
        failures.push({ label: endpoint.label, error: error as Error });
      }
    }
    if (method === 'eth_getLogs' && failures.every((f) => (f.error as { timedOut?: boolean }).timedOut)) {
      // Every endpoint timed out on this range: most likely it is too big to answer in time.
      throw new RangeTooLargeError(`eth_getLogs timed out on every endpoint (${this.label}); splitting the range`);
    }
    if (failures.length === 1) throw failures[0]!.error;
    throw new RpcRequestError(`RPC ${method} failed on all ${failures.length} endpoints: ${failures.map((f) => oneLine(f.error)).join('; ')}`);
  }

  private classify(method: string, label: string, error: unknown): Error {
    const e = error as { shortMessage?: string; message?: string; details?: string; name?: string; status?: number; cause?: { status?: number } };
    const text = this.redact([e.shortMessage, e.details].filter(Boolean).join(': ') || e.message || String(error));
    const line = text.split('\n')[0]!;
    const status = e.status ?? e.cause?.status;
    // An HTTP error status or rate limiting is about the endpoint, never about the range asked for.
    const endpointFault = (status !== undefined && (status === 429 || status >= 500)) || RATE_LIMITED.test(text);
    if (method === 'eth_getLogs' && !endpointFault && RANGE_REFUSAL.test(text)) return new RangeTooLargeError(`${label} refused the range: ${line}`);
    const wrapped = new RpcRequestError(`RPC ${method} to ${label} failed: ${line}`);
    if (e.name === 'TimeoutError' || /timed? ?out/i.test(text)) Object.assign(wrapped, { timedOut: true });
    return wrapped;
  }

  async getChainId(): Promise<number> {
    return this.parseChainId(await this.call<string>('eth_chainId', [], (hex) => (typeof hex === 'string' && HEX.test(hex) && hex !== '0x' ? undefined : `not a hex quantity (${JSON.stringify(hex)})`)));
  }

  private parseChainId(hex: string): number {
    return Number(BigInt(hex));
  }

  /**
   * Throws ChainIdMismatchError when any endpoint serves another chain. Endpoints that cannot be
   * reached are skipped (that is transient); if none can, the request error is thrown.
   */
  async assertChainId(): Promise<void> {
    let reached = 0;
    let lastError: unknown;
    for (const endpoint of this.endpoints) {
      let actual: number;
      try {
        actual = this.parseChainId(
          await endpoint.call<string>('eth_chainId', [], (error) => this.classify('eth_chainId', endpoint.label, error), (hex) =>
            typeof hex === 'string' && HEX.test(hex) && hex !== '0x' ? undefined : `not a hex quantity (${JSON.stringify(hex)})`,
          ),
        );
      } catch (error) {
        lastError = error;
        continue;
      }
      reached += 1;
      if (actual !== this.chainId) {
        throw new ChainIdMismatchError(
          `chain id mismatch: the config says ${this.chainId} but ${endpoint.label} serves chain ${actual}; fix chains.<key>.id or the RPC URL`,
        );
      }
    }
    if (reached === 0) throw lastError;
  }

  async getBlockNumber(): Promise<number> {
    const hex = await this.call<string>('eth_blockNumber', [], (h) => (typeof h === 'string' && HEX.test(h) && h !== '0x' ? undefined : `not a hex quantity (${JSON.stringify(h)})`));
    return Number(BigInt(hex));
  }

  async getBlockHeader(number: number | 'latest'): Promise<BlockHeader> {
    const tag = number === 'latest' ? 'latest' : `0x${number.toString(16)}`;
    const block = await this.call<Record<string, string> | null>('eth_getBlockByNumber', [tag, false], (b) => {
      if (!b) return `block ${number} not found`;
      if (!HASH.test(b.hash ?? '') || !HASH.test(b.parentHash ?? '') || !HEX.test(b.number ?? '') || !HEX.test(b.timestamp ?? '')) {
        return `block ${number} lacks hash, parentHash, number or timestamp`;
      }
      if (number !== 'latest' && Number(BigInt(b.number!)) !== number) return `asked for block ${number}, got ${Number(BigInt(b.number!))}`;
      return undefined;
    });
    return { number: Number(BigInt(block!.number!)), hash: block!.hash!.toLowerCase(), parentHash: block!.parentHash!.toLowerCase(), timestamp: Number(BigInt(block!.timestamp!)) };
  }

  /** eth_getLogs with every answer checked: a log we cannot trust is a transient fault, never stored. */
  async getLogs(filter: LogFilter): Promise<RawLog[]> {
    const params = [
      {
        fromBlock: `0x${filter.fromBlock.toString(16)}`,
        toBlock: `0x${filter.toBlock.toString(16)}`,
        address: filter.addresses,
        topics: [filter.topic0s],
      },
    ];
    const addresses = new Set(filter.addresses.map((a) => a.toLowerCase()));
    const topics = new Set(filter.topic0s.map((t) => t.toLowerCase()));
    return this.call<RawLog[]>('eth_getLogs', params, (logs) => {
      if (!Array.isArray(logs)) return 'not an array';
      for (const log of logs) {
        const problem = checkLog(log, filter, addresses, topics);
        if (problem) return problem;
      }
      return undefined;
    });
  }
}

function checkLog(log: RawLog, filter: LogFilter, addresses: Set<string>, topics: Set<string>): string | undefined {
  if (!log || typeof log !== 'object') return 'a log is not an object';
  if (log.removed === true) return 'a log is marked removed';
  if (!HEX.test(log.blockNumber ?? '') || !HEX.test(log.logIndex ?? '')) return 'a log lacks blockNumber or logIndex';
  if (!HASH.test(log.blockHash ?? '') || /^0x0+$/.test(log.blockHash)) return 'a log lacks a block hash';
  if (!HASH.test(log.transactionHash ?? '')) return 'a log lacks a transaction hash';
  if (typeof log.data !== 'string' || !HEX.test(log.data)) return 'a log lacks data';
  if (!Array.isArray(log.topics) || !log.topics.every((t) => HASH.test(t))) return 'a log has malformed topics';
  const block = Number(BigInt(log.blockNumber));
  if (block < filter.fromBlock || block > filter.toBlock) return `a log of block ${block} is outside the requested ${filter.fromBlock}-${filter.toBlock}`;
  if (!addresses.has(String(log.address).toLowerCase())) return `a log from ${log.address} which was not asked for`;
  if (!topics.has(String(log.topics[0]).toLowerCase())) return `a log with topic0 ${log.topics[0]} which was not asked for`;
  return undefined;
}

/** Headers of [fromBlock, toBlock], a few requests at a time, checked to form one hash chain. */
export async function getHeaderChain(rpc: ChainRpc, fromBlock: number, toBlock: number, concurrency = 8): Promise<BlockHeader[]> {
  const numbers = Array.from({ length: Math.max(0, toBlock - fromBlock + 1) }, (_, i) => fromBlock + i);
  const headers: BlockHeader[] = [];
  for (let i = 0; i < numbers.length; i += concurrency) {
    headers.push(...(await Promise.all(numbers.slice(i, i + concurrency).map((n) => rpc.getBlockHeader(n)))));
  }
  for (let i = 1; i < headers.length; i++) {
    if (headers[i]!.parentHash !== headers[i - 1]!.hash) {
      // The node switched forks between our requests; asking again gives one consistent chain.
      throw new RpcRequestError(`${rpc.label}: block ${headers[i]!.number} does not extend block ${headers[i - 1]!.number}; the chain moved during the sync`);
    }
  }
  return headers;
}
