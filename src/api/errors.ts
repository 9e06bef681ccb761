import { GraphQLError, type ExecutionResult } from 'postgraphile/graphql';
import type { Redactor } from '../redact';
import { exactJsonText, stringifyExact } from './exact-json';
import type { Outcome } from './metrics';

/**
 * Errors as the client sees them: each names the problem (a PostgreSQL statement timeout, the
 * database away, a bad value), and none carries a secret (every message passes the redactor,
 * which knows the DATABASE_URL and its password). Stack traces never leave the server.
 */

export interface ClientError {
  message: string;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
}

interface PgLikeError {
  code?: string;
  message?: string;
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300']);

function rootCause(error: unknown): PgLikeError | undefined {
  let current = error as { originalError?: unknown; cause?: unknown } | undefined;
  for (let i = 0; i < 5 && current; i++) {
    const code = (current as PgLikeError).code;
    if (typeof code === 'string' && !(current instanceof GraphQLError)) return current as PgLikeError;
    current = (current.originalError ?? current.cause) as typeof current;
  }
  return undefined;
}

function isUnavailable(error: unknown): boolean {
  const cause = rootCause(error);
  if (cause?.code && UNAVAILABLE_CODES.has(cause.code)) return true;
  const message = String((error as Error)?.message ?? '');
  return /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}

/** The kind of one error, for metrics and the `extensions.code` a client can switch on. */
export function classify(error: unknown): { outcome: Outcome; code: string } {
  if (error instanceof GraphQLError && typeof error.extensions?.code === 'string') {
    const code = error.extensions.code as string;
    if (code === 'PAGE_SIZE_LIMIT' || code === 'DEPTH_LIMIT') return { outcome: 'limit', code };
    if (code === 'GRAPHQL_VALIDATION_FAILED' || code === 'GRAPHQL_PARSE_FAILED' || code === 'BAD_REQUEST' || code === 'READ_ONLY' || code === 'NOT_READY') return { outcome: 'invalid', code };
  }
  const cause = rootCause(error);
  if (cause?.code === '57014') return { outcome: 'timeout', code: 'STATEMENT_TIMEOUT' };
  if (cause?.code === '25006') return { outcome: 'error', code: 'READ_ONLY' };
  if (isUnavailable(error)) return { outcome: 'unavailable', code: 'DATABASE_UNAVAILABLE' };
  if (cause?.code) return { outcome: 'error', code: 'DATABASE_ERROR' };
  return { outcome: 'error', code: 'INTERNAL' };
}

export class ErrorFormatter {
  constructor(
    private readonly redactor: Redactor,
    private readonly statementTimeoutMs: number,
  ) {}

  /** One GraphQL error as JSON for the client. */
  format(error: GraphQLError): ClientError {
    const { code } = classify(error);
    let message = error.message;
    if (code === 'STATEMENT_TIMEOUT') {
      message = `the query ran longer than the statement timeout (API_STATEMENT_TIMEOUT_MS=${this.statementTimeoutMs}) and was cancelled: ask for fewer rows, or filter and order on indexed columns (docs/api.md)`;
    } else if (code === 'READ_ONLY') {
      message = 'this API is read-only: nothing can be written through it';
    } else if (code === 'DATABASE_UNAVAILABLE') {
      message = 'PostgreSQL is unavailable right now; try again shortly';
    }
    const existing = (error.extensions ?? {}) as Record<string, unknown>;
    const extensions: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(existing)) if (key !== 'stack' && key !== 'exception') extensions[key] = value;
    if (typeof extensions.code !== 'string') extensions.code = code;
    return {
      message: this.redactor.redact(message),
      ...(error.locations ? { locations: error.locations } : {}),
      ...(error.path ? { path: error.path } : {}),
      extensions,
    };
  }

  /** A result as sent: its errors formatted, and the worst outcome among them. */
  result(result: ExecutionResult): { body: Record<string, unknown>; outcome: Outcome } {
    let outcome: Outcome = 'ok';
    const body: Record<string, unknown> = {};
    if (result.errors && result.errors.length > 0) {
      body.errors = result.errors.map((e) => {
        const kind = classify(e).outcome;
        if (outcome === 'ok' || kind === 'unavailable' || kind === 'timeout') outcome = kind;
        return this.format(e);
      });
    }
    if (result.data !== undefined) body.data = result.data;
    if (result.extensions !== undefined) body.extensions = result.extensions;
    return { body, outcome };
  }

  /**
   * A body as the client receives it: JSON with every number exact. `data` may already be JSON
   * text (grafast's outputDataAsString: it writes the response's data itself, faster than
   * building objects for JSON.stringify).
   */
  text(body: Record<string, unknown>): string {
    const { data, ...rest } = body;
    if (typeof data !== 'string') return stringifyExact(body);
    const head = stringifyExact(rest);
    return `${head === '{}' ? '{' : `${head.slice(0, -1)},`}"data":${exactJsonText(data)}}`;
  }

  /** A request refused before it ran (parse, validation, limits): the errors and their outcome. */
  refused(errors: readonly GraphQLError[]): { body: Record<string, unknown>; outcome: Outcome } {
    return this.result({ errors });
  }
}
