import {
  ChainIdMismatchError,
  EndpointBehindError,
  EndpointMisroutedError,
  NON_RETRYABLE_ERROR_TYPES,
  RangeTooLargeError,
  RpcRequestError,
  RpcTimeoutError,
  oneLine,
} from '../errors';

/**
 * The RPC layer's failure rules, in one place: for a failed request or an unusable answer, its
 * class, and per class whether the endpoint is to blame (its breaker, failure count and rank),
 * whether the request is tried again here (a few quick retries inside the activity), the getLogs
 * range split, another endpoint asked, or the indexer gives up (Temporal does not retry; it
 * pauses with lastError). Endpoints, routing and the activities ask this module; none decides
 * for itself. Pure: no I/O, no clock, nothing but `../errors` (workflow code could import it).
 *
 * The error type carries the decision: a class is raised as one of our error types (RULES), and
 * whoever catches that error later (the failover loop, the retry, the range splitter, Temporal)
 * reads the same decision from the type (rpcDecision). Classes that share a type must share
 * every decision made after the failure (test/unit/rpc-policy.test.ts checks it); only blame,
 * decided once where the failure happens, may differ.
 */

export type RpcFailureClass =
  /** The provider refused an eth_getLogs range as too large (results, blocks, size, its own timeout). */
  | 'range-refused'
  | 'timeout'
  /** HTTP 429, JSON-RPC -32005 or 429, or wording about rates, capacity, throttling. */
  | 'rate-limited'
  /** HTTP 5xx, JSON-RPC -32603. */
  | 'server-error'
  /** No answer at all: connection refused or reset, DNS, socket closed. */
  | 'unreachable'
  /** An answer we cannot read: broken JSON, a batch answer without our calls, a check that failed. */
  | 'malformed'
  /** "header not found", "unknown block": the node does not have a block it was asked about. */
  | 'unknown-block'
  | 'reverted'
  /** Any other JSON-RPC or HTTP error. */
  | 'failed'
  /** The node that answered lags behind the block asked about (its head, asked in the same batch, or a null header). */
  | 'behind'
  /** The answer came from another chain than the endpoint serves (a load balancer misrouting). */
  | 'misrouted'
  /** The endpoint's breaker is open: not asked. */
  | 'breaker-open'
  /** No endpoint may be asked (none has the block yet, none in rotation). */
  | 'no-endpoint'
  /** Answers that contradict each other or their headers (forks, a lying endpoint): nobody can be blamed. */
  | 'conflict'
  /** An endpoint serves another chain than the config says (the chain id check before indexing). */
  | 'wrong-chain'
  /** Not an RPC failure (a database error, a bug): none of the RPC layer's business. */
  | 'not-rpc';

/** The classes a failed request can have, read from the error the transport raised. */
export type TransportFailureClass = Extract<RpcFailureClass, 'range-refused' | 'timeout' | 'rate-limited' | 'server-error' | 'unreachable' | 'malformed' | 'unknown-block' | 'reverted' | 'failed'>;

export interface RpcDecision {
  class: RpcFailureClass;
  /** Counts against the endpoint: its breaker (consecutive failures open it), its failure count and rank. */
  blame: boolean;
  /** Tried again here, after a short pause (RETRY_HERE), before the activity fails. */
  retry: boolean;
  /** The eth_getLogs range is halved and both halves asked (splitsRange). */
  split: boolean;
  /** Another endpoint (or, for the tip, another endpoint's whole view) may be asked instead. */
  failOver: boolean;
  /**
   * Retrying cannot fix it: Temporal does not retry the activity, and the indexer pauses with
   * lastError. Read from NON_RETRYABLE_ERROR_TYPES (errors.ts), the list the workflow hands Temporal
   * (workflows/activity-options.ts): one source for both.
   */
  giveUp: boolean;
}

type ErrorType = (new (message: string) => Error) & { readonly type: string };
type Rule = Omit<RpcDecision, 'class' | 'giveUp'> & { error?: ErrorType };

/** The endpoint failed: count it, ask the next endpoint, and try again shortly. */
const ENDPOINT_FAULT = { blame: true, retry: true, split: false, failOver: true } as const;
/** Not the endpoint's fault, but another endpoint or a moment later may do. */
const ELSEWHERE = { blame: false, retry: true, split: false, failOver: true } as const;

const RULES: Readonly<Record<RpcFailureClass, Rule>> = {
  // The request's fault: no other endpoint is asked and no retry; the caller halves the range.
  'range-refused': { error: RangeTooLargeError, blame: false, retry: false, split: true, failOver: false },
  // When every endpoint times out on one eth_getLogs range, the range is split (everyEndpointFailed).
  timeout: { error: RpcTimeoutError, ...ENDPOINT_FAULT },
  'rate-limited': { error: RpcRequestError, ...ENDPOINT_FAULT },
  'server-error': { error: RpcRequestError, ...ENDPOINT_FAULT },
  unreachable: { error: RpcRequestError, ...ENDPOINT_FAULT },
  malformed: { error: RpcRequestError, ...ENDPOINT_FAULT },
  'unknown-block': { error: RpcRequestError, ...ENDPOINT_FAULT },
  reverted: { error: RpcRequestError, ...ENDPOINT_FAULT },
  failed: { error: RpcRequestError, ...ENDPOINT_FAULT },
  behind: { error: EndpointBehindError, ...ELSEWHERE },
  misrouted: { error: EndpointMisroutedError, ...ENDPOINT_FAULT },
  'breaker-open': { error: RpcRequestError, ...ELSEWHERE },
  'no-endpoint': { error: RpcRequestError, ...ELSEWHERE },
  conflict: { error: RpcRequestError, ...ELSEWHERE },
  'wrong-chain': { error: ChainIdMismatchError, blame: false, retry: false, split: false, failOver: false },
  'not-rpc': { blame: false, retry: false, split: false, failOver: false },
};

export const RPC_FAILURE_CLASSES = Object.keys(RULES) as RpcFailureClass[];

/** What the policy decides for a class (a row of the table). */
export function decisionFor(cls: RpcFailureClass): RpcDecision {
  const { error, ...rule } = RULES[cls];
  return { class: cls, ...rule, giveUp: error !== undefined && NON_RETRYABLE_ERROR_TYPES.includes(error.type) };
}

/** The error a class is raised as (its type is what every later decision reads). */
export function rpcFailure(cls: Exclude<RpcFailureClass, 'not-rpc'>, message: string): Error {
  return new RULES[cls].error!(message);
}

/** The class of an error as it travels (one of ours, cockatiel's open breaker, anything else). */
export function classOf(error: unknown): RpcFailureClass {
  if (error instanceof RangeTooLargeError) return 'range-refused';
  if (error instanceof RpcTimeoutError) return 'timeout';
  if (error instanceof EndpointBehindError) return 'behind';
  if (error instanceof EndpointMisroutedError) return 'misrouted';
  if (error instanceof RpcRequestError) return 'failed';
  if (error instanceof ChainIdMismatchError) return 'wrong-chain';
  // cockatiel's BrokenCircuitError, recognised by its marker (this module imports no library).
  if ((error as { isBrokenCircuitError?: unknown } | null)?.isBrokenCircuitError === true) return 'breaker-open';
  return 'not-rpc';
}

/** What to do about an error, wherever it is caught. */
export function rpcDecision(error: unknown): RpcDecision {
  const decision = decisionFor(classOf(error));
  // Temporal matches nonRetryableErrorTypes on the error's name: so does the policy.
  if (decision.class === 'not-rpc') decision.giveUp = NON_RETRYABLE_ERROR_TYPES.includes((error as { name?: string } | null)?.name ?? '');
  return decision;
}

// ---------------------------------------------------------------------------------------------
// Classifying what the transport raised

/** Messages providers use when a getLogs range is too big for them (geth, Alchemy, Infura, QuickNode, Ankr …). */
const RANGE_REFUSAL = /more than \d+ results|too many (results|logs|blocks)|blocks? range|range (is )?too (large|wide|big)|exceed(s|ed)? .*(range|size)|response (size|too large)|query timeout|max.*range|log response size/i;
/** Rate limiting wears many codes (429, -32005, -32029 …): whatever its code, it is the endpoint's fault, not the range's. */
const RATE_LIMITED = /rate|too many requests|capacity|throttl|429/i;
const TIMED_OUT = /timed? ?out/i;
const UNREACHABLE = /fetch failed|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|socket hang up|other side closed|socket has been closed|connection (refused|reset|closed)/i;
const MALFORMED = /JSON|Unexpected (token|end)|not an array|no usable answer|answer lacks|malformed/i;
const UNKNOWN_BLOCK = /header not found|unknown block|block not found|cannot be found/i;
const REVERTED = /execution reverted|\breverted\b/i;

interface FailureShape {
  /** shortMessage and details (viem), else the message; redacted. */
  text: string;
  status?: number;
  code?: number;
  name?: string;
}

function shapeOf(error: unknown, redact: (text: string) => string): FailureShape {
  const e = error as { shortMessage?: string; message?: string; details?: string; name?: string; status?: number; code?: unknown; cause?: { status?: number } } | null;
  const text = redact([e?.shortMessage, e?.details].filter(Boolean).join(': ') || e?.message || String(error));
  return { text, status: e?.status ?? e?.cause?.status, code: typeof e?.code === 'number' ? e.code : undefined, name: e?.name };
}

/**
 * The class of a request that failed, from the error the transport raised: viem's (HTTP status,
 * JSON-RPC code, wording) or a JSON-RPC error inside a batch answer (batchAnswerError).
 */
export function rpcFailureClass(method: string, error: unknown, redact: (text: string) => string = (t) => t): TransportFailureClass {
  return classify(method, shapeOf(error, redact));
}

function classify(method: string, { text, status, code, name }: FailureShape): TransportFailureClass {
  const rateLimited = status === 429 || RATE_LIMITED.test(text);
  // An HTTP error status or rate limiting is about the endpoint, never about the range asked for.
  const endpointFault = rateLimited || (status !== undefined && status >= 500);
  if (method === 'eth_getLogs' && !endpointFault && RANGE_REFUSAL.test(text)) return 'range-refused';
  if (name === 'TimeoutError' || TIMED_OUT.test(text)) return 'timeout';
  if (rateLimited || code === -32005 || code === 429) return 'rate-limited';
  if ((status !== undefined && status >= 500) || code === -32603) return 'server-error';
  if (UNREACHABLE.test(text)) return 'unreachable';
  if (MALFORMED.test(text)) return 'malformed';
  if (UNKNOWN_BLOCK.test(text)) return 'unknown-block';
  if (code === 3 || REVERTED.test(text)) return 'reverted';
  return 'failed';
}

/**
 * The error a failed request becomes: its class's type, with the endpoint's label and the
 * provider's first line, redacted (viem's messages quote full URLs, which may carry API keys).
 */
export function classifyRpcError(method: string, label: string, error: unknown, redact: (text: string) => string): RangeTooLargeError | RpcRequestError {
  const shape = shapeOf(error, redact);
  const line = shape.text.split('\n')[0]!;
  const cls = classify(method, shape);
  if (cls === 'range-refused') return new RangeTooLargeError(`${label} refused the range: ${line}`);
  return rpcFailure(cls, `RPC ${method} to ${label} failed: ${line}`) as RpcRequestError;
}

/** A JSON-RPC error inside a batch answer, shaped like viem's errors so that classification reads it alike. */
export function batchAnswerError(error: { code?: number; message?: string }): Error {
  return Object.assign(new Error(String(error.message ?? 'unknown JSON-RPC error')), { code: error.code });
}

// ---------------------------------------------------------------------------------------------
// Retrying, failing over, splitting

/** One lost request among the dozens an activity makes should cost milliseconds, not the activity: two quick retries. */
export const RETRY_HERE = { retries: 2, initialDelayMs: 100, maxDelayMs: 1_000 } as const;

export interface EndpointFailure {
  label: string;
  error: unknown;
}

/** The error a request ends with when every endpoint it was sent to failed (none said "split" or "stop"). */
export function everyEndpointFailed(method: string, failures: readonly EndpointFailure[]): Error {
  if (method === 'eth_getLogs' && failures.length > 0 && failures.every((f) => classOf(f.error) === 'timeout')) {
    // Every endpoint timed out on this range: most likely it is too big to answer in time.
    return new RangeTooLargeError(`eth_getLogs timed out on every endpoint (${failures.map((f) => f.label).join(', ')}); splitting the range`);
  }
  if (failures.length === 1) return failures[0]!.error as Error;
  return new RpcRequestError(`RPC ${method} failed on all ${failures.length} endpoints: ${failures.map((f) => oneLine(f.error)).join('; ')}`);
}

/** More logs than this in one answer and the range is split: memory stays bounded whatever the density. */
export const MAX_LOGS_PER_REQUEST = 10_000;

/**
 * Whether the eth_getLogs range [from, to] is halved: the provider refused it (or every endpoint
 * timed out on it), or its answer is too dense to hold at once. A single block is never split:
 * its refusal is a real fault, and its logs are what they are.
 */
export function splitsRange(range: { from: number; to: number }, outcome: { error: unknown } | { logs: number }): boolean {
  if (range.to <= range.from) return false;
  return 'error' in outcome ? rpcDecision(outcome.error).split : outcome.logs > MAX_LOGS_PER_REQUEST;
}
