/**
 * Every error a user can see, in one place. Each class has a stable `type` (also its `name`):
 * Temporal matches `nonRetryableErrorTypes` on it, so the type is the retry contract, and
 * `fatal` says which side of it a class is on. `shortMessage` is the one line a user reads; it
 * must say what is wrong and how to fix it, and never carry secrets. Pure (workflow code imports it).
 */
export class IndexerError extends Error {
  static readonly type: string = 'IndexerError';
  /** Retrying cannot fix it: Temporal does not retry it, and the indexer pauses with lastError. */
  static readonly fatal: boolean = false;
  override name = 'IndexerError';
  readonly shortMessage: string;
  readonly details?: string;

  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, { cause: options.cause });
    this.shortMessage = shortMessage;
    this.details = options.details;
    this.name = (new.target as typeof IndexerError).type;
  }
}

/** The config file or a value in it is wrong. */
export class InvalidConfigError extends IndexerError {
  static override readonly type: string = 'InvalidConfigError';
  static override readonly fatal = true;
}

/** A log matched a configured event's topic but does not decode with its ABI. */
export class AbiDecodeError extends IndexerError {
  static override readonly type: string = 'AbiDecodeError';
  static override readonly fatal = true;
}

/** The RPC endpoint serves another chain than the config says. */
export class ChainIdMismatchError extends IndexerError {
  static override readonly type: string = 'ChainIdMismatchError';
  static override readonly fatal = true;
}

/** A table already exists with columns that do not match what the ABI needs. */
export class SchemaMismatchError extends IndexerError {
  static override readonly type: string = 'SchemaMismatchError';
  static override readonly fatal = true;
}

/** A chain reorganisation deeper than the configured limit, or below stored history. */
export class ReorgTooDeepError extends IndexerError {
  static override readonly type: string = 'ReorgTooDeepError';
  static override readonly fatal = true;
}

/** The handlers module is missing, malformed, names an event the config does not index, or its setup failed. */
export class InvalidHandlersError extends IndexerError {
  static override readonly type: string = 'InvalidHandlersError';
  static override readonly fatal = true;
}

/** No RPC endpoint is configured on this worker for a chain. Retryable: another worker may have one. */
export class RpcNotConfiguredError extends IndexerError {
  static override readonly type: string = 'RpcNotConfiguredError';
}

/** An RPC request failed or its answer was unusable. Transient: retried. */
export class RpcRequestError extends IndexerError {
  static override readonly type: string = 'RpcRequestError';
}

/** An RPC request got no answer in time. Transient; when every endpoint times out on a range, the range is split. */
export class RpcTimeoutError extends RpcRequestError {
  static override readonly type: string = 'RpcTimeoutError';
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
  static override readonly type: string = 'RangeTooLargeError';
}

/** `indexer reset` could not roll back (the reason is in the message). */
export class ResetFailedError extends IndexerError {
  static override readonly type: string = 'ResetFailed';
}

/** `indexer rebuild` could not empty the derived tables or run setup (the reason is in the message). */
export class RebuildFailedError extends IndexerError {
  static override readonly type: string = 'RebuildFailed';
}

/** The NATS server is unreachable, restarting, or did not acknowledge in time. Transient: retried, shown in `status.stream.lastError`. */
export class StreamUnavailableError extends IndexerError {
  static override readonly type: string = 'StreamUnavailableError';
}

/**
 * JetStream acknowledged a message as a duplicate of one this stage did not publish under that id,
 * or that the stream no longer holds: the message is not in the stream. Transient: the publish is
 * retried (shown in `status.stream.lastError`), and goes through once JetStream's duplicate window
 * has passed. It means two messages were given one id, which the stage's ids are made to prevent.
 */
export class StreamDuplicateError extends IndexerError {
  static override readonly type: string = 'StreamDuplicateError';
}

/**
 * The stream cannot be used as configured (a stream of that name that does not capture the
 * indexer's subjects, messages on them this database never published, a message the server
 * refuses): the stream stage pauses until fixed and `indexer resume`.
 */
export class StreamConfigError extends IndexerError {
  static override readonly type: string = 'StreamConfigError';
  static override readonly fatal = true;
}

/** A CLI failure: one line on stderr and a non-zero exit (2 where a command documents it). */
export class CliError extends IndexerError {
  static override readonly type: string = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const ERROR_CLASSES: ReadonlyArray<{ readonly type: string; readonly fatal: boolean }> = [
  InvalidConfigError,
  AbiDecodeError,
  ChainIdMismatchError,
  SchemaMismatchError,
  ReorgTooDeepError,
  InvalidHandlersError,
  RpcNotConfiguredError,
  RpcRequestError,
  RpcTimeoutError,
  RangeTooLargeError,
  ResetFailedError,
  RebuildFailedError,
  StreamUnavailableError,
  StreamDuplicateError,
  StreamConfigError,
  CliError,
];

/** Error types that retrying cannot fix: not retried by Temporal; the workflow pauses with `lastError` instead. */
export const NON_RETRYABLE_ERROR_TYPES: readonly string[] = ERROR_CLASSES.filter((c) => c.fatal).map((c) => c.type);

/** One line for a human: our own short message, else the first line of the error's message. */
export function oneLine(error: unknown): string {
  // Our messages may quote input, newlines and all (V8's JSON.parse error quotes the broken source).
  if (error instanceof IndexerError) return error.shortMessage.replace(/\s*\n\s*/g, ' ').trim();
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').trim() || 'unknown error';
}
