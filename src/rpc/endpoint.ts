import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { RateLimiter } from 'limiter';
import { http, webSocket, type EIP1193RequestFn } from 'viem';
import { RangeTooLargeError, RpcRequestError, oneLine } from '../errors';
import { redactUrl } from '../redact';
import { rpcSpan } from '../tracing';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What an operator sees of an endpoint: never its URL, only the redacted label. */
export interface EndpointHealth {
  label: string;
  state: BreakerState;
  requests: number;
  failures: number;
  /** Smoothed latency of successful requests. */
  latencyMs: number;
  rateLimitWaits: number;
}

export interface EndpointOptions {
  timeoutMs: number;
  /** Requests per second this endpoint may receive; unlimited when unset. */
  requestsPerSecond?: number;
  /** Consecutive failures that open the breaker, and how long it stays open before a probe. */
  breakerThreshold?: number;
  breakerHalfOpenAfterMs?: number;
}

const STATE: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'open',
};

/**
 * One JSON-RPC endpoint with its own rate limit (token bucket) and circuit breaker (cockatiel:
 * closed → open after consecutive failures → half-open probe → closed). A range refusal is the
 * request's fault, not the endpoint's, so it does not count against the breaker.
 */
export class Endpoint {
  readonly label: string;
  private readonly request: EIP1193RequestFn;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly limiter?: RateLimiter;
  private readonly stats = { requests: 0, failures: 0, latencyMs: 0, rateLimitWaits: 0 };
  /** Why the endpoint last failed, so an open breaker can say what opened it. */
  private lastFailure = '';

  constructor(url: string, options: EndpointOptions) {
    this.label = redactUrl(url);
    // Temporal retries with backoff; viem's own retries would only hide faults and stretch attempts.
    const transport = url.startsWith('ws') ? webSocket(url, { retryCount: 0, timeout: options.timeoutMs }) : http(url, { retryCount: 0, timeout: options.timeoutMs });
    this.request = transport({ retryCount: 0 }).request;
    this.breaker = circuitBreaker(
      handleWhen((error) => !(error instanceof RangeTooLargeError)),
      { halfOpenAfter: options.breakerHalfOpenAfterMs ?? 5_000, breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5) },
    );
    if (options.requestsPerSecond) this.limiter = new RateLimiter({ tokensPerInterval: options.requestsPerSecond, interval: 'second' });
  }

  get state(): BreakerState {
    return STATE[this.breaker.state];
  }

  get health(): EndpointHealth {
    return { label: this.label, state: this.state, ...this.stats, latencyMs: Math.round(this.stats.latencyMs) };
  }

  /**
   * One request through the limiter and the breaker. `check` validates the answer: an answer that
   * fails it counts as this endpoint's failure, like an error would.
   */
  async call<T>(method: string, params: unknown[], toError: (error: unknown) => Error, check?: (result: T) => string | undefined): Promise<T> {
    if (this.limiter) {
      if (this.limiter.getTokensRemaining() < 1) this.stats.rateLimitWaits += 1;
      await this.limiter.removeTokens(1);
    }
    try {
      return await this.breaker.execute(async () => {
        this.stats.requests += 1;
        const started = Date.now();
        let result: T;
        try {
          result = await rpcSpan(method, params, this.label, async () => (await this.request({ method: method as never, params: params as never })) as T);
        } catch (error) {
          throw toError(error);
        }
        const problem = check?.(result);
        if (problem) throw new RpcRequestError(`RPC ${method} to ${this.label} gave a malformed answer: ${problem}`);
        const ms = Date.now() - started;
        this.stats.latencyMs = this.stats.latencyMs === 0 ? ms : this.stats.latencyMs * 0.8 + ms * 0.2;
        return result;
      });
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw new RpcRequestError(`${this.label} is failing (circuit breaker open; last error: ${this.lastFailure}); not asked`);
      if (!(error instanceof RangeTooLargeError)) {
        this.stats.failures += 1;
        this.lastFailure = oneLine(error);
      }
      throw error;
    }
  }

  /** Lower is better: healthy and fast first, open breakers last. */
  rank(): number {
    const penalty = { closed: 0, 'half-open': 1e6, open: 1e9 }[this.state];
    const errorRate = this.stats.requests === 0 ? 0 : this.stats.failures / this.stats.requests;
    return penalty + this.stats.latencyMs * (1 + 4 * errorRate);
  }
}
