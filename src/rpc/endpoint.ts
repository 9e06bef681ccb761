import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { RateLimiter } from 'limiter';
import { http, webSocket, type EIP1193RequestFn } from 'viem';
import { getHttpRpcClient, type HttpRpcClient } from 'viem/utils';
import { oneLine } from '../errors';
import { redactUrl } from '../redact';
import { rpcSpan } from '../tracing';
import type { BreakerState, EndpointHealth } from './health';
import { batchAnswerError, classifyRpcError, rpcDecision, rpcFailure, rpcFailureClass } from './policy';


export type { BreakerState, EndpointHealth };

export interface EndpointOptions {
  timeoutMs: number;
  /** Requests per second this endpoint may receive; unlimited when unset. */
  requestsPerSecond?: number;
  /** Consecutive failures that open the breaker, and how long it stays open before a probe. */
  breakerThreshold?: number;
  breakerHalfOpenAfterMs?: number;
  /** The chain every data answer must come from; unchecked when unset. */
  chainId?: number;
  /** How long an endpoint caught omitting logs ranks last. */
  demotionMs?: number;
  /** How long an endpoint that answered for another chain stays out before it is asked again. */
  rotationRetryMs?: number;
}

export interface CallOptions {
  /**
   * The highest block the request is about. The answer must come from a node that has it: getLogs
   * asks the node's head in the same batch, and a missing header is "behind", not a failure.
   */
  needs?: number;
  /** A call that reverts is an answer (an RpcRevert in its place), not a failure: chain reads (eth_call) of handlers. */
  revertsAnswer?: boolean;
}

/** A call the chain executed and that reverted: the answer, as the node gave it (the same at that block on any node). */
export class RpcRevert {
  constructor(
    readonly message: string,
    readonly data: string | undefined,
  ) {}
}

/** The revert an error is, when it is one (JSON-RPC code 3, "execution reverted"), with its data. */
function revertOf(method: string, error: unknown): RpcRevert | undefined {
  if (rpcFailureClass(method, error) !== 'reverted') return undefined;
  const e = error as { shortMessage?: string; message?: string; data?: unknown; cause?: { data?: unknown; message?: string } };
  const data = [e.data, e.cause?.data].find((d): d is string => typeof d === 'string' && HEX.test(d));
  return new RpcRevert(String(e.cause?.message ?? e.shortMessage ?? e.message ?? 'execution reverted').split('\n')[0]!, data);
}

const STATE: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'open',
};

/** Requests whose answers are chain data: each is bound to the chain id that served it. */
const DATA_METHODS = new Set(['eth_getLogs', 'eth_getBlockByNumber', 'eth_blockNumber', 'eth_getTransactionByHash', 'eth_call', 'eth_getBalance', 'eth_getCode', 'eth_getStorageAt']);
/** Without batches (websocket, or an endpoint refusing them) the chain id is checked this often. */
const CHAIN_RECHECK_MS = 30_000;
const HEX = /^0x[0-9a-fA-F]+$/;

interface JsonRpcAnswer {
  id?: unknown;
  result?: unknown;
  error?: { code?: number; message?: string; data?: unknown };
}

/**
 * One JSON-RPC endpoint with its own rate limit (token bucket) and circuit breaker (cockatiel:
 * closed → open after consecutive failures → half-open probe → closed). Single calls and batches
 * take one path (send), and what counts against the endpoint is the policy's (policy.ts, blame): a
 * range refusal is the request's fault and a block the node does not have yet is lag, so neither does.
 *
 * Over http(s) every data request travels as a batch with eth_chainId (and getLogs with
 * eth_blockNumber before it): a batch is served by one backend, so the answer proves which chain it
 * came from and that its node had the blocks, even behind a load balancer that spreads single
 * requests over nodes at different heights or misroutes some to another chain. A websocket is
 * pinned to one backend: there the chain id is checked when first used and every 30 s.
 */
export class Endpoint {
  readonly label: string;
  private readonly request: EIP1193RequestFn;
  /** The websocket's RPC client, to close it (http has nothing to close). */
  private readonly socketClient?: () => Promise<{ close: () => void }>;
  private readonly httpClient?: HttpRpcClient;
  private readonly isWebSocket: boolean;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly limiter?: RateLimiter;
  private readonly bucketSize: number;
  private readonly stats = { requests: 0, failures: 0, latencyMs: 0, rateLimitWaits: 0, omissions: 0, behind: 0 };
  /** Why the endpoint last failed, so an open breaker can say what opened it. */
  private lastFailure = '';
  private batching = true;
  private socketUsed = false;
  private chainCheckedAt = 0;
  private nextId = 1;
  private demotedUntil = 0;
  private rotation: { reason: string; retryAt: number } | undefined;
  /** The endpoint's head as last seen (eth_blockNumber answers, headers it served or lacked). */
  head: number | undefined;
  /** When its head was last asked for outside the probe, and that ask while it runs (ChainRpc's). */
  headAskedAt = 0;
  headAsk: Promise<void> | undefined;

  /** `redact` hides every secret of the chain's URLs in the messages of the errors it raises. */
  constructor(
    url: string,
    private readonly options: EndpointOptions,
    private readonly redact: (text: string) => string = (text) => text,
  ) {
    this.label = redactUrl(url);
    this.isWebSocket = url.startsWith('ws');
    // Temporal retries with backoff; viem's own retries would only hide faults and stretch attempts.
    if (this.isWebSocket) {
      const socket = webSocket(url, { retryCount: 0, timeout: options.timeoutMs })({ retryCount: 0 });
      this.request = socket.request;
      this.socketClient = () => socket.value!.getRpcClient();
    } else {
      this.request = http(url, { retryCount: 0, timeout: options.timeoutMs })({ retryCount: 0 }).request;
    }
    if (!this.isWebSocket) this.httpClient = getHttpRpcClient(url, { timeout: options.timeoutMs });
    this.breaker = circuitBreaker(
      handleWhen((error) => rpcDecision(error).blame),
      { halfOpenAfter: options.breakerHalfOpenAfterMs ?? 5_000, breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5) },
    );
    this.bucketSize = Math.max(1, Math.floor(options.requestsPerSecond ?? 1));
    if (options.requestsPerSecond) this.limiter = new RateLimiter({ tokensPerInterval: options.requestsPerSecond, interval: 'second' });
  }

  /** Closes a websocket (its keep-alive and reconnect timers would keep the process alive). */
  async close(): Promise<void> {
    if (!this.socketClient || !this.socketUsed) return;
    (await this.socketClient().catch(() => undefined))?.close();
  }

  get state(): BreakerState {
    return STATE[this.breaker.state];
  }

  get health(): EndpointHealth {
    return {
      label: this.label,
      state: this.state,
      requests: this.stats.requests,
      failures: this.stats.failures,
      latencyMs: Math.round(this.stats.latencyMs),
      rateLimitWaits: this.stats.rateLimitWaits,
      head: this.head ?? null,
      lag: null,
      omissions: this.stats.omissions,
      behind: this.stats.behind,
      demoted: this.demoted(),
      outOfRotation: this.rotation?.reason ?? null,
    };
  }

  /** In rotation: not caught serving another chain (or asked again since, and right). */
  get inRotation(): boolean {
    return this.rotation === undefined;
  }

  /** Out of rotation, and long enough ago to be asked again (by the head probe). */
  dueForRotationCheck(now = Date.now()): boolean {
    return this.rotation !== undefined && now >= this.rotation.retryAt;
  }

  demoted(now = Date.now()): boolean {
    return now < this.demotedUntil;
  }

  /** Caught returning fewer logs than exist: counted, and ranked last for a while. */
  recordOmission(): void {
    this.stats.omissions += 1;
    this.demotedUntil = Date.now() + (this.options.demotionMs ?? 5 * 60_000);
  }

  /** One request (see send). */
  async call<T>(method: string, params: unknown[], check?: (result: T) => string | undefined, options: CallOptions = {}): Promise<T> {
    const [result] = await this.send<T>(method, [params], check, options);
    return result as T;
  }

  /**
   * The same method with several parameter lists: over http one batch `[eth_chainId, call, call …]`
   * (one backend answers all of them), elsewhere one request each after the chain check.
   */
  callEach<T>(method: string, paramsList: unknown[][], check?: (result: T, index: number) => string | undefined, options: CallOptions = {}): Promise<T[]> {
    return this.send<T>(method, paramsList, check, options);
  }

  /**
   * Every request, single or batch, through the limiter and the breaker. `check` validates each
   * answer: one that fails it is this endpoint's failure, like an error would be. What a failure
   * counts against the endpoint is the policy's (blame), for the breaker and the counters alike.
   */
  private async send<T>(method: string, paramsList: unknown[][], check: ((result: T, index: number) => string | undefined) | undefined, options: CallOptions): Promise<T[]> {
    const bound = this.options.chainId !== undefined && DATA_METHODS.has(method);
    const guardHead = bound && method === 'eth_getLogs' && options.needs !== undefined;
    const batched = bound && this.batching && this.httpClient !== undefined;
    if (this.limiter) {
      // Providers count every call of a batch against their limits.
      const tokens = Math.min(paramsList.length + (batched ? (guardHead ? 2 : 1) : 0), this.bucketSize);
      if (this.limiter.getTokensRemaining() < tokens) this.stats.rateLimitWaits += 1;
      await this.limiter.removeTokens(tokens);
    }
    try {
      return await this.breaker.execute(async () => {
        const started = Date.now();
        const results = await rpcSpan(method, paramsList[0] ?? [], this.label, () =>
          batched ? this.batchedCall<T>(method, paramsList, options, guardHead) : this.unbatchedCall<T>(method, paramsList, options, bound),
        );
        results.forEach((result, i) => {
          this.learnFrom(method, paramsList[i]!, result, options);
          const problem = check?.(result, i);
          if (problem) throw rpcFailure('malformed', `RPC ${method} to ${this.label} gave a malformed answer: ${problem}`);
        });
        const ms = Date.now() - started;
        this.stats.latencyMs = this.stats.latencyMs === 0 ? ms : this.stats.latencyMs * 0.8 + ms * 0.2;
        return results;
      });
    } catch (error) {
      const decision = rpcDecision(error);
      if (decision.class === 'breaker-open') throw rpcFailure('breaker-open', `${this.label} is failing (circuit breaker open; last error: ${this.lastFailure}); not asked`);
      if (decision.class === 'behind') this.stats.behind += 1;
      if (decision.blame) {
        this.stats.failures += 1;
        this.lastFailure = oneLine(error);
      }
      throw error;
    }
  }

  private toError(method: string, error: unknown): Error {
    return classifyRpcError(method, this.label, error, this.redact);
  }

  private async unbatchedCall<T>(method: string, paramsList: unknown[][], options: CallOptions, bound: boolean): Promise<T[]> {
    if (bound && Date.now() - this.chainCheckedAt >= CHAIN_RECHECK_MS) await this.checkChainAlone(method);
    if (bound && this.isWebSocket && method === 'eth_getLogs' && options.needs !== undefined) {
      // The socket is one backend: its head, asked first, says whether it has the blocks.
      this.checkHead(method, await this.single<string>('eth_blockNumber', []), options.needs);
    }
    const results: T[] = [];
    for (const params of paramsList) results.push(await this.single<T>(method, params, options));
    return results;
  }

  private async single<T>(method: string, params: unknown[], options: CallOptions = {}): Promise<T> {
    this.stats.requests += 1;
    this.socketUsed = this.isWebSocket;
    try {
      return (await this.request({ method: method as never, params: params as never })) as T;
    } catch (error) {
      const revert = options.revertsAnswer ? revertOf(method, error) : undefined;
      if (revert) return revert as T;
      throw this.toError(method, error);
    }
  }

  /** `[eth_chainId, (eth_blockNumber,) call, call …]` in one HTTP request: one backend answers all of them. */
  private async batchedCall<T>(method: string, paramsList: unknown[][], options: CallOptions, guardHead: boolean): Promise<T[]> {
    const ids = { chain: this.nextId++, head: this.nextId++, calls: paramsList.map(() => this.nextId++) };
    const body = [
      { method: 'eth_chainId', id: ids.chain },
      ...(guardHead ? [{ method: 'eth_blockNumber', id: ids.head }] : []),
      ...paramsList.map((params, i) => ({ method, params, id: ids.calls[i] })),
    ];
    this.stats.requests += 1;
    let answers: JsonRpcAnswer[];
    try {
      answers = (await this.httpClient!.request({ body: body as never })) as unknown as JsonRpcAnswer[];
    } catch (error) {
      throw this.toError(method, error);
    }
    if (!Array.isArray(answers)) throw this.toError(method, new Error('the answer to a batch is not an array'));
    // viem hands one error object for every call when the server refused the batch as a whole.
    if (answers.length > 1 && answers.every((a) => a === answers[0]) && answers[0]?.error) {
      if (/batch/i.test(answers[0].error.message ?? '')) {
        this.batching = false; // an endpoint without batches: chain id checked on its own from now on
        return this.unbatchedCall<T>(method, paramsList, options, true);
      }
      throw this.toError(method, batchAnswerError(answers[0].error));
    }
    const byId = new Map(answers.map((a) => [a?.id, a]));
    this.checkChain(method, Number(BigInt(this.usableHex(method, 'eth_chainId', byId.get(ids.chain)))));
    if (guardHead) this.checkHead(method, this.usableHex(method, 'eth_blockNumber', byId.get(ids.head)), options.needs!);
    return ids.calls.map((id) => {
      const answer = byId.get(id);
      if (!answer) throw this.toError(method, new Error(`the batch's answer lacks ${paramsList.length === 1 ? 'the' : 'a'} ${method} call`));
      if (answer.error) {
        const error = Object.assign(batchAnswerError(answer.error), { data: (answer.error as { data?: unknown }).data });
        const revert = options.revertsAnswer ? revertOf(method, error) : undefined;
        if (revert) return revert as T;
        throw this.toError(method, error);
      }
      return answer.result as T;
    });
  }

  /** The hex answer of a call the batch carries beside `method` (the chain id, the head). */
  private usableHex(method: string, call: string, answer: JsonRpcAnswer | undefined): string {
    if (!answer || answer.error || typeof answer.result !== 'string' || !HEX.test(answer.result)) {
      throw this.toError(method, new Error(`${call} in the batch ${answer?.error ? `failed: ${answer.error.message}` : 'got no usable answer'}`));
    }
    return answer.result;
  }

  private async checkChainAlone(method: string): Promise<void> {
    const hex = await this.single<string>('eth_chainId', []);
    if (typeof hex !== 'string' || !HEX.test(hex)) throw rpcFailure('malformed', `RPC eth_chainId to ${this.label} gave a malformed answer: ${JSON.stringify(hex)}`);
    this.checkChain(method, Number(BigInt(hex)));
    this.chainCheckedAt = Date.now();
  }

  private checkChain(method: string, actual: number): void {
    const expected = this.options.chainId!;
    if (actual === expected) {
      // Back in rotation only on an answer asked after the wait: answers to requests sent before
      // it was taken out prove nothing about the requests after.
      if (this.rotation && Date.now() >= this.rotation.retryAt) this.rotation = undefined;
      return;
    }
    const retryMs = this.options.rotationRetryMs ?? 30_000;
    this.rotation = { reason: `serves chain ${actual}, not ${expected}`, retryAt: Date.now() + retryMs };
    throw rpcFailure(
      'misrouted',
      `${this.label} answered ${method} for chain ${actual}, not ${expected} (a load balancer routing to the wrong chain?): answer discarded, endpoint out of rotation, asked again in ${Math.round(retryMs / 1000)} s`,
    );
  }

  private checkHead(method: string, hex: string, needs: number): void {
    const head = Number(BigInt(hex));
    this.head = head;
    if (head < needs) throw rpcFailure('behind', `${this.label} is at block ${head}, behind block ${needs} that ${method} is about; its answer was not used`);
  }

  /** What an answer says about the endpoint's head: a reported head, or a header it has or lacks. */
  private learnFrom(method: string, params: unknown[], result: unknown, options: CallOptions): void {
    if (method === 'eth_blockNumber' && typeof result === 'string' && HEX.test(result)) {
      this.head = Number(BigInt(result));
    } else if (method === 'eth_getBlockByNumber' && params[0] === 'latest' && typeof (result as { number?: unknown } | null)?.number === 'string') {
      const number = (result as { number: string }).number;
      if (HEX.test(number)) this.head = Number(BigInt(number));
    } else if (method === 'eth_getBlockByNumber' && options.needs !== undefined && typeof params[0] === 'string' && params[0].startsWith('0x')) {
      if (result === null) {
        this.head = Math.min(this.head ?? options.needs - 1, options.needs - 1);
        throw rpcFailure('behind', `${this.label} does not have block ${options.needs} yet`);
      }
      this.head = Math.max(this.head ?? options.needs, options.needs);
    }
  }

  /** Lower is better: healthy and fast first, then demoted ones, open breakers and other chains last. */
  rank(now = Date.now()): number {
    const penalty = { closed: 0, 'half-open': 1e6, open: 1e9 }[this.state] + (this.demoted(now) ? 1e5 : 0) + (this.rotation ? 1e12 : 0);
    const errorRate = this.stats.requests === 0 ? 0 : this.stats.failures / this.stats.requests;
    return penalty + this.stats.latencyMs * (1 + 4 * errorRate);
  }
}
