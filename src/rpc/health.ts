/** Types only: workflow code (the status query) uses them as well as the RPC layer. */

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What an operator sees of an endpoint: never its URL, only the redacted label. */
export interface EndpointHealth {
  label: string;
  state: BreakerState;
  /** HTTP requests (a batch is one) or websocket messages sent. */
  requests: number;
  failures: number;
  /** Smoothed latency of successful requests. */
  latencyMs: number;
  rateLimitWaits: number;
  /** The endpoint's own head as last seen; null before it answered. */
  head: number | null;
  /** Blocks behind the highest head among the chain's endpoints; null before it answered. */
  lag: number | null;
  /** Times it was caught returning fewer logs than exist (by another endpoint or by a block's logsBloom). */
  omissions: number;
  /** Answers thrown away because it (or the node behind it that answered) did not have the blocks asked about. */
  behind: number;
  /** Ranked below every endpoint without a recent omission. */
  demoted: boolean;
  /** Why it gets no requests (it answered for another chain); null while in rotation. */
  outOfRotation: string | null;
}
