import { RangeTooLargeError, RpcRequestError, RpcTimeoutError } from '../errors';

/** Messages providers use when a getLogs range is too big for them (geth, Alchemy, Infura, QuickNode, Ankr …). */
const RANGE_REFUSAL = /more than \d+ results|too many (results|logs|blocks)|blocks? range|range (is )?too (large|wide|big)|exceed(s|ed)? .*(range|size)|response (size|too large)|query timeout|max.*range|log response size/i;

/** Rate limiting wears many codes (429, -32005, -32029 …): whatever its code, it is the endpoint's fault, not the range's. */
const RATE_LIMITED = /rate|too many requests|capacity|throttl|429/i;

/**
 * What a failed request means, from viem's error (or a JSON-RPC error inside a batch): the range
 * was too large for the provider (split it), the endpoint did not answer in time, or the endpoint
 * failed otherwise (fail over, retry). The text is redacted before it lands in any message.
 */
export function classifyRpcError(method: string, label: string, error: unknown, redact: (text: string) => string): RangeTooLargeError | RpcRequestError {
  const e = error as { shortMessage?: string; message?: string; details?: string; name?: string; status?: number; cause?: { status?: number } };
  const text = redact([e.shortMessage, e.details].filter(Boolean).join(': ') || e.message || String(error));
  const line = text.split('\n')[0]!;
  const status = e.status ?? e.cause?.status;
  // An HTTP error status or rate limiting is about the endpoint, never about the range asked for.
  const endpointFault = (status !== undefined && (status === 429 || status >= 500)) || RATE_LIMITED.test(text);
  if (method === 'eth_getLogs' && !endpointFault && RANGE_REFUSAL.test(text)) return new RangeTooLargeError(`${label} refused the range: ${line}`);
  const message = `RPC ${method} to ${label} failed: ${line}`;
  return e.name === 'TimeoutError' || /timed? ?out/i.test(text) ? new RpcTimeoutError(message) : new RpcRequestError(message);
}
