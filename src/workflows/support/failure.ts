import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { NON_RETRYABLE_ERROR_TYPES } from '../../errors';

/** What the workflow makes of a failed activity or child: the line to show, and whether retrying can help. */
export interface Failure {
  message: string;
  /** Retrying cannot fix it (bad config, wrong chain …): the indexer pauses until `resume`. */
  fatal: boolean;
}

const FATAL = new Set<string>(NON_RETRYABLE_ERROR_TYPES);

/** The innermost failure (activity → child workflow → activity …) is the one that says what went wrong. */
export function describeFailure(error: unknown): Failure {
  let cause = error;
  while (cause instanceof TemporalFailure && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) return { message: cause.message, fatal: cause.nonRetryable || FATAL.has(cause.type ?? '') };
  return { message: cause instanceof Error ? cause.message : String(cause), fatal: false };
}

/**
 * The workflow's own backoff between attempts at work whose activity gave up (its retries spent):
 * 1 s doubling to a minute, back to 1 s after a success.
 */
export class Backoff {
  private nextMs: number;

  constructor(
    private readonly initialMs = 1_000,
    private readonly maxMs = 60_000,
  ) {
    this.nextMs = initialMs;
  }

  /** The wait before the next attempt; each call doubles the one after. */
  next(): number {
    const wait = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    return wait;
  }

  reset(): void {
    this.nextMs = this.initialMs;
  }
}
