/**
 * Errors the indexer raises on purpose. Each class has a stable `name`: Temporal matches
 * `nonRetryableErrorTypes` on it, so the class name is the retry contract. `shortMessage` is
 * the one line a user reads; it must say what is wrong and how to fix it, and never carry secrets.
 */
export class IndexerError extends Error {
  override name = 'IndexerError';
  readonly shortMessage: string;
  readonly details?: string;

  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, { cause: options.cause });
    this.shortMessage = shortMessage;
    this.details = options.details;
  }
}

/** The config file or a value in it is wrong. */
export class InvalidConfigError extends IndexerError {
  override name = 'InvalidConfigError';
}

/** A log matched a configured event's topic but does not decode with its ABI. */
export class AbiDecodeError extends IndexerError {
  override name = 'AbiDecodeError';
}

/** The RPC endpoint serves another chain than the config says. */
export class ChainIdMismatchError extends IndexerError {
  override name = 'ChainIdMismatchError';
}

/** A table already exists with columns that do not match what the ABI needs. */
export class SchemaMismatchError extends IndexerError {
  override name = 'SchemaMismatchError';
}

/** A chain reorganisation deeper than the configured limit, or below stored history. */
export class ReorgTooDeepError extends IndexerError {
  override name = 'ReorgTooDeepError';
}

/** No RPC endpoint is configured on this worker for a chain. Retryable: another worker may have one. */
export class RpcNotConfiguredError extends IndexerError {
  override name = 'RpcNotConfiguredError';
}

/** An RPC request failed or its answer was unusable. Transient: retried. */
export class RpcRequestError extends IndexerError {
  override name = 'RpcRequestError';
}

/**
 * The endpoint (or the node behind it that answered) does not have the block asked about yet: it
 * lags. Not its failure: another endpoint is asked, or the request waits until one has the block.
 */
export class EndpointBehindError extends RpcRequestError {
  override name = 'EndpointBehindError';
}

/**
 * A data answer came from another chain than the endpoint's (a load balancer that misroutes some
 * requests): the answer is thrown away and the endpoint taken out of rotation until it serves the
 * right chain again. Transient for the indexer: the other endpoints carry on.
 */
export class EndpointMisroutedError extends RpcRequestError {
  override name = 'EndpointMisroutedError';
}

/** The RPC refused a range as too large (too many results, range cap, size). The caller splits it. */
export class RangeTooLargeError extends IndexerError {
  override name = 'RangeTooLargeError';
}

/** Errors that retrying cannot fix: the workflow pauses with `lastError` instead of retrying. */
export const NON_RETRYABLE_ERROR_TYPES = [
  'InvalidConfigError',
  'AbiDecodeError',
  'ChainIdMismatchError',
  'SchemaMismatchError',
  'ReorgTooDeepError',
] as const;

/** One line for a human: our own short message, else the first line of the error's message. */
export function oneLine(error: unknown): string {
  // Our messages may quote input, newlines and all (V8's JSON.parse error quotes the broken source).
  if (error instanceof IndexerError) return error.shortMessage.replace(/\s*\n\s*/g, ' ').trim();
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').trim() || 'unknown error';
}
