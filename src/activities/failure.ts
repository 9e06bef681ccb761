import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { IndexerError, NON_RETRYABLE_ERROR_TYPES } from '../errors';

const NON_RETRYABLE = new Set<string>(NON_RETRYABLE_ERROR_TYPES);

/**
 * What an activity throws travels into workflow history, message and stack alike. This turns any
 * error into an ApplicationFailure whose type is our error class name (the retry contract) and
 * whose message has passed the redactor; the original stack, which may quote URLs, stays behind.
 */
export function toActivityFailure(error: unknown, redact: (text: string) => string): Error {
  if (error instanceof CancelledFailure || error instanceof ApplicationFailure) return error;
  const type =
    error instanceof IndexerError ? error.name : ((error as { code?: string }).code ? `PostgresError` : (error as Error)?.name) || 'Error';
  const raw = error instanceof IndexerError ? error.shortMessage : error instanceof Error ? error.message : String(error);
  const message = redact(raw.split('\n')[0] ?? raw);
  const failure = ApplicationFailure.create({ type, message, nonRetryable: NON_RETRYABLE.has(type) });
  failure.stack = `${type}: ${message}`;
  return failure;
}
