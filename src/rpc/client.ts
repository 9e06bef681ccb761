import { ChainIdMismatchError } from '../errors';
import { Redactor } from '../redact';
import { checkBlock, checkQuantity, checkTransactions, toHeader, type BlockHeader, type LogFilter, type RawBlock, type RawLog, type RawTransaction } from './answers';
import type { CrossCheckMode } from './cross-check';
import { Endpoint, type EndpointHealth, type EndpointOptions } from './endpoint';
import type { HeadProbe } from './heads';
import { getComparedLogs } from './logs';
import { rpcFailure } from './policy';
import { Router, type RpcCheckStats, type View } from './routing';

export type { BlockHeader, CrossCheckMode, EndpointHealth, HeadProbe, LogFilter, RawLog, RpcCheckStats };
export { RpcRevert } from './endpoint';

export interface ChainRpcOptions extends Partial<Omit<EndpointOptions, 'chainId'>> {
  /** The chain's `crossCheck` setting; "all" with two or more endpoints when unset. */
  crossCheck?: CrossCheckMode;
  /**
   * Pauses before asking an endpoint again about a block whose logsBloom admits a configured
   * address and topic0 that its answer held no log of, when no other endpoint can be asked (one per
   * re-ask; default [250]: one re-ask, a quarter of a second later).
   */
  bloomRetryDelaysMs?: number[];
}

/**
 * One chain's JSON-RPC access over one or more endpoints, with failover in order of health and
 * latency. Every error that leaves it is ours, with endpoints shown only by their redacted labels:
 * viem's messages quote full URLs, which may carry API keys.
 *
 * The parts: which endpoint is asked and what a failure leads to (routing.ts, by the rules of
 * policy.ts), what each answer must look like (answers.ts), and eth_getLogs answers compared
 * across endpoints and with the blocks' logsBloom (logs.ts). Endpoints disagree
 * (docs/endpoints.md): each one's head is tracked and it is never asked about a block above
 * it; an endpoint caught omitting logs is counted and ranked last for a while; one that answers
 * for another chain is taken out of rotation. Views (`session`, `pinnedTo`, `preferringSecond`)
 * share the endpoints and route differently.
 */
export class ChainRpc {
  readonly chainId!: number;
  readonly labels!: string[];
  private readonly router!: Router;

  constructor(chainId: number, urls: string[], options: ChainRpcOptions = {}) {
    const redactor = new Redactor();
    for (const url of urls) redactor.addUrl(url);
    const { crossCheck, bloomRetryDelaysMs, ...endpointOptions } = options;
    const redact = (text: string) => redactor.redact(text);
    const endpoints = urls.map((url) => new Endpoint(url, { timeoutMs: 30_000, ...endpointOptions, chainId }, redact));
    const shared = {
      endpoints,
      redactor,
      crossCheck,
      bloomRetryDelaysMs: bloomRetryDelaysMs ?? [250],
      probing: {},
      stats: { crossChecked: 0, crossCheckSkipped: 0, bloomRechecks: 0, bloomFalsePositives: 0 },
    };
    Object.assign(this, { chainId, labels: endpoints.map((e) => e.label), router: new Router(chainId, shared, { notices: [] }) });
  }

  private derive(view: View): ChainRpc {
    const derived = Object.create(ChainRpc.prototype) as ChainRpc;
    return Object.assign(derived, { chainId: this.chainId, labels: this.labels, router: new Router(this.chainId, this.router.shared, view) });
  }

  /**
   * A view for one activity: the same endpoints, its own notices, and the indexer's crossCheck
   * setting (the worker shares one ChainRpc per chain between indexers).
   */
  session(options: { crossCheck?: CrossCheckMode } = {}): ChainRpc {
    return this.derive({ crossCheck: options.crossCheck ?? this.router.view.crossCheck, notices: [] });
  }

  /** Every request of the returned view goes to one endpoint (its notices are this view's). */
  pinnedTo(endpoint: number): ChainRpc {
    return this.derive({ ...this.router.view, pin: endpoint, avoidBest: false });
  }

  /** The best-ranked endpoint is asked last: a second opinion beside the one that ingests. */
  preferringSecond(): ChainRpc {
    return this.derive({ ...this.router.view, pin: undefined, avoidBest: true });
  }

  get label(): string {
    return this.labels.join(', ');
  }

  /** Breaker state, counters, head and lag per endpoint, for status and metrics. */
  health(): EndpointHealth[] {
    const endpoints = this.router.shared.endpoints;
    const heads = endpoints.map((e) => e.head).filter((h): h is number => h !== undefined);
    const highest = heads.length > 0 ? Math.max(...heads) : undefined;
    return endpoints.map((e) => {
      const health = e.health;
      return { ...health, lag: health.head !== null && highest !== undefined ? highest - health.head : null };
    });
  }

  /** Closes the endpoints' websockets, if any (a worker shutting down). */
  async close(): Promise<void> {
    await Promise.all(this.router.shared.endpoints.map((e) => e.close()));
  }

  checkStats(): RpcCheckStats {
    return { ...this.router.shared.stats };
  }

  redact(text: string): string {
    return this.router.shared.redactor.redact(text);
  }

  /**
   * What this view saw that an operator should see now (logs an endpoint omitted, an endpoint out
   * of rotation), as one line for the activity's result; undefined when all was well.
   */
  notice(): string | undefined {
    const lines = [...new Set(this.router.view.notices)];
    for (const e of this.router.shared.endpoints) {
      if (!e.inRotation) lines.push(`${e.label} is out of rotation: it ${e.health.outOfRotation} (a misrouting load balancer?); asked again every 30 s`);
    }
    if (lines.length === 0) return undefined;
    const text = lines.join('; ');
    return text.length > 600 ? `${text.slice(0, 597)}…` : text;
  }

  /** Endpoints that have `block` (any, when undefined), best first, ignoring this view's pin. */
  endpointsHaving(block: number | undefined): number[] {
    return this.router.endpointsHaving(block);
  }

  /**
   * Transactions by hash, as JSON-RPC batches of up to `perBatch` (one HTTP request each, with the
   * chain id), from an endpoint that has block `needs`. A transaction a node does not know (null)
   * or that sits in another block than its logs say is retried, never stored.
   */
  async getTransactions(hashes: readonly string[], needs: number, perBatch = 50): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < hashes.length; i += perBatch) {
      const chunk = hashes.slice(i, i + perBatch);
      const params = chunk.map((hash) => [hash]);
      const { result } = await this.router.request('eth_getTransactionByHash', needs, (endpoint) =>
        endpoint.callEach<RawTransaction>('eth_getTransactionByHash', params, checkTransactions(chunk)),
      );
      out.push(...(result as Array<Record<string, unknown>>));
    }
    return out;
  }

  /**
   * Chain reads of handlers (eth_call, eth_getBalance, eth_getCode, eth_getStorageAt), each at a
   * block no higher than `needs`: one JSON-RPC batch per method (with the chain id), from an
   * endpoint that has that block, with failover, limits and the breaker like every request. A call
   * that reverts is an answer (RpcRevert in its place); any other failure fails them all (retried
   * by the caller, never taken for a revert).
   */
  async readMany(calls: ReadonlyArray<{ method: string; params: unknown[] }>, needs: number, perBatch = 100): Promise<unknown[]> {
    const out = new Array<unknown>(calls.length);
    const byMethod = new Map<string, number[]>();
    calls.forEach((call, i) => {
      const list = byMethod.get(call.method);
      if (list) list.push(i);
      else byMethod.set(call.method, [i]);
    });
    for (const [method, indexes] of byMethod) {
      for (let i = 0; i < indexes.length; i += perBatch) {
        const chunk = indexes.slice(i, i + perBatch);
        const { result } = await this.router.request(method, needs, (endpoint) =>
          endpoint.callEach<unknown>(method, chunk.map((index) => calls[index]!.params), undefined, { needs, revertsAnswer: true }),
        );
        chunk.forEach((index, j) => (out[index] = result[j]));
      }
    }
    return out;
  }

  /**
   * Throws ChainIdMismatchError when any endpoint serves another chain. Endpoints that cannot be
   * reached are skipped (that is transient); if none can, the request error is thrown.
   */
  async assertChainId(): Promise<void> {
    let reached = 0;
    let lastError: unknown;
    for (const endpoint of this.router.shared.endpoints) {
      let actual: number;
      try {
        actual = Number(BigInt(await endpoint.call<string>('eth_chainId', [], checkQuantity)));
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

  /**
   * Every endpoint's head, asked in parallel; the chain's head is the highest, the tip endpoint the
   * best-ranked one there (Router.probeHeads).
   */
  probeHeads(options: { hashes?: boolean } = {}): Promise<HeadProbe> {
    return this.router.probeHeads(options);
  }

  /** The chain's head: the highest among the endpoints (see probeHeads). */
  async getBlockNumber(): Promise<number> {
    return (await this.probeHeads()).head;
  }

  async getBlockHeader(number: number | 'latest'): Promise<BlockHeader> {
    const tag = number === 'latest' ? 'latest' : `0x${number.toString(16)}`;
    const needs = number === 'latest' ? undefined : number;
    const { result } = await this.router.request('eth_getBlockByNumber', needs, (endpoint) =>
      endpoint.call<RawBlock>('eth_getBlockByNumber', [tag, false], checkBlock(number), { needs }),
    );
    return toHeader(result!);
  }

  /** eth_getLogs, checked and compared across endpoints (logs.ts, getComparedLogs). */
  getLogs(filter: LogFilter, options: { headers?: ReadonlyMap<number, BlockHeader> } = {}): Promise<RawLog[]> {
    return getComparedLogs(this.router, filter, options);
  }
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
      throw rpcFailure('conflict', `${rpc.label}: block ${headers[i]!.number} does not extend block ${headers[i - 1]!.number}; the chain moved during the sync`);
    }
  }
  return headers;
}
