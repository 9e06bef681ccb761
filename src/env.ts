import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { IndexerError } from './errors';

/**
 * Every environment variable the indexer reads, in one place (README, "Environment"). Each reader
 * validates its variable when it is read and fails with one line naming it, e.g.
 * `METRICS_PORT=abc must be a TCP port (1-65535)`. Variables that may hold secrets (DATABASE_URL,
 * RPC_URL_<id>, NATS_URL) are never echoed back. An empty value counts as unset.
 */

/** An environment variable with a value the indexer cannot use. */
export class InvalidEnvError extends IndexerError {
  override name = 'InvalidEnvError';
}

export type Env = NodeJS.ProcessEnv;

/** Variables whose values are never repeated in an error message. */
const SECRET = /^(DATABASE_URL|RPC_URL_\d+|NATS_URL|OTEL_EXPORTER_OTLP_(TRACES_)?HEADERS)$/;

function raw(name: string, env: Env): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Reads and validates one variable: `schema` parses the raw text, its message completes `NAME=value …`. */
function read<T>(name: string, env: Env, schema: z.ZodType<T>): T | undefined {
  const value = raw(name, env);
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const shown = SECRET.test(name) ? name : `${name}=${value}`;
  throw new InvalidEnvError(`${shown} ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
}

const port = z
  .string()
  .regex(/^\d+$/, 'must be a TCP port (1-65535)')
  .transform(Number)
  .refine((n) => n >= 1 && n <= 65535, 'must be a TCP port (1-65535)');
const positiveInteger = z.string().regex(/^\d+$/, 'must be a whole number ≥ 1').transform(Number).refine((n) => n >= 1, 'must be a whole number ≥ 1');
const wholeNumber = z.string().regex(/^\d+$/, 'must be a whole number (0 or more)').transform(Number);
const positiveNumber = z
  .string()
  .refine((s) => Number.isFinite(Number(s)) && Number(s) > 0, 'must be a positive number')
  .transform(Number);
const duration = z
  .string()
  .transform((s) => s.replace(/\s+/g, ''))
  .refine((s) => /^\d+(ms|s|m)?$/.test(s), 'must be a duration like 25s, 500ms or 2m');
const nonEmptyName = z.string().regex(/^[^\s]+$/, 'must be a name without spaces');

function urlWithProtocols(protocols: string[], what: string) {
  return z.string().refine((s) => {
    try {
      return protocols.includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, `must be ${what}`);
}

// --- Temporal -------------------------------------------------------------------------------

export interface TemporalEnv {
  /** TEMPORAL_ADDRESS, default localhost:7233. */
  address: string;
  /** Whether TEMPORAL_ADDRESS was set (indexer dev starts its own server when not). */
  addressSet: boolean;
  namespace: string;
  taskQueue: string;
}

export function temporalEnv(env: Env = process.env): TemporalEnv {
  const address = read('TEMPORAL_ADDRESS', env, z.string().regex(/^\S+:\d{1,5}$/, 'must be host:port, e.g. temporal.internal:7233'));
  return {
    address: address ?? 'localhost:7233',
    addressSet: address !== undefined,
    namespace: read('TEMPORAL_NAMESPACE', env, nonEmptyName) ?? 'default',
    taskQueue: read('TEMPORAL_TASK_QUEUE', env, nonEmptyName) ?? 'indexer',
  };
}

// --- PostgreSQL -----------------------------------------------------------------------------

const postgresUrl = urlWithProtocols(['postgres:', 'postgresql:'], 'a postgres:// URL, e.g. postgres://user:password@host:5432/db (value not shown: it may hold a password)');

/** DATABASE_URL, validated; undefined when unset. */
export function databaseUrl(env: Env = process.env): string | undefined {
  return read('DATABASE_URL', env, postgresUrl);
}

/**
 * DATABASE_URL for a command that must not guess: a worker that silently started its own
 * database would write where nobody reads.
 */
export function requireDatabaseUrl(command: string, optIn: string, env: Env = process.env): string {
  const url = databaseUrl(env);
  if (url) return url;
  throw new InvalidEnvError(
    `DATABASE_URL is not set: indexer ${command} needs the PostgreSQL the indexer writes to (DATABASE_URL=postgres://user:password@host:5432/db)${optIn ? `; for a local embedded one use ${optIn}` : ''}`,
  );
}

// --- RPC ------------------------------------------------------------------------------------

const rpcUrlList = z
  .string()
  .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
  .refine(
    (urls) =>
      urls.length > 0 &&
      urls.every((u) => {
        try {
          return ['http:', 'https:', 'ws:', 'wss:'].includes(new URL(u).protocol);
        } catch {
          return false;
        }
      }),
    'must be a comma-separated list of http(s):// or ws(s):// URLs (value not shown: it may hold an API key)',
  );

/** RPC_URL_<chainId>: a comma-separated list of endpoints for that chain. */
export function rpcUrls(chainId: number, env: Env = process.env): string[] | undefined {
  return read(`RPC_URL_${chainId}`, env, rpcUrlList);
}

/** Every RPC_URL_<chainId> set in the environment. */
export function allRpcUrls(env: Env = process.env): Map<number, string[]> {
  const chains = new Map<number, string[]>();
  for (const key of Object.keys(env).sort()) {
    const m = /^RPC_URL_(\d+)$/.exec(key);
    if (!m) continue;
    const urls = rpcUrls(Number(m[1]), env);
    if (urls) chains.set(Number(m[1]), urls);
  }
  return chains;
}

// --- The worker -----------------------------------------------------------------------------

/** METRICS_PORT: the worker's /metrics and /health; off when unset. */
export function metricsPort(env: Env = process.env): number | undefined {
  return read('METRICS_PORT', env, port);
}

export interface WorkerTuning {
  maxConcurrentActivityTaskExecutions?: number;
  maxTaskQueueActivitiesPerSecond?: number;
  maxCachedWorkflows?: number;
  shutdownGraceTime?: string;
  /** Heap size (MB) past which the worker collects its garbage (heap-bound.ts); 0: V8's own pace. */
  heapBoundMb?: number;
}

/** What WORKER_HEAP_BOUND_MB defaults to: a backfill's live set is well under half of it. */
export const DEFAULT_HEAP_BOUND_MB = 128;

/**
 * Worker tuning (README, "Running in production"): activity slots per worker, a task-queue-wide
 * activity rate, the sticky workflow cache, and how long in-flight activities get on SIGTERM.
 */
export function workerTuning(env: Env = process.env): WorkerTuning {
  return {
    maxConcurrentActivityTaskExecutions: read('WORKER_MAX_CONCURRENT_ACTIVITIES', env, positiveInteger),
    maxTaskQueueActivitiesPerSecond: read('WORKER_MAX_ACTIVITIES_PER_SECOND', env, positiveNumber),
    maxCachedWorkflows: read('WORKER_MAX_CACHED_WORKFLOWS', env, positiveInteger),
    shutdownGraceTime: read('WORKER_SHUTDOWN_GRACE_TIME', env, duration),
    heapBoundMb: read('WORKER_HEAP_BOUND_MB', env, wholeNumber) ?? DEFAULT_HEAP_BOUND_MB,
  };
}

// --- Logs and traces ------------------------------------------------------------------------

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function logLevel(env: Env = process.env): LogLevel {
  return read('LOG_LEVEL', env, z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })) ?? 'info';
}

/** LOG_LEVEL=debug, without failing on a bad value (used while reporting another error). */
export function debugRequested(env: Env = process.env): boolean {
  return raw('LOG_LEVEL', env) === 'debug' || raw('LOG_LEVEL', env) === 'trace';
}

/** CI is set: logs stay JSON even on a terminal. */
export function inCi(env: Env = process.env): boolean {
  const value = raw('CI', env);
  return value !== undefined && value !== '0' && value.toLowerCase() !== 'false';
}

export interface TracingEnv {
  /** OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT): tracing is on when set. */
  endpoint: string;
  /** The endpoint came from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: a full URL, used as is. */
  signalSpecific: boolean;
  serviceName?: string;
}

/** OpenTelemetry over OTLP when an endpoint is set; undefined (tracing off) otherwise. */
export function tracingEnv(env: Env = process.env): TracingEnv | undefined {
  const httpUrl = urlWithProtocols(['http:', 'https:'], 'an http(s):// URL, e.g. http://otel-collector:4318');
  const tracesEndpoint = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', env, httpUrl);
  const endpoint = tracesEndpoint ?? read('OTEL_EXPORTER_OTLP_ENDPOINT', env, httpUrl);
  if (!endpoint) return undefined;
  return { endpoint, signalSpecific: tracesEndpoint !== undefined, serviceName: read('OTEL_SERVICE_NAME', env, nonEmptyName) };
}

// --- Streams (v2) ---------------------------------------------------------------------------

/** NATS_URL: the broker the stream stage publishes to (worker-side: it may hold credentials). */
export function natsUrl(env: Env = process.env): string | undefined {
  return read('NATS_URL', env, z.string().regex(/^(nats|tls|ws|wss):\/\/\S+$/, 'must be a nats:// URL, or several separated by commas (value not shown: it may hold credentials)'));
}

// --- Local tooling (indexer dev, tests) -----------------------------------------------------

/** Where scripts/install-temporal-cli.sh caches its build (TEMPORAL_CLI_CACHE_DIR moves it). */
export function temporalCliCacheDir(env: Env = process.env): string {
  return raw('TEMPORAL_CLI_CACHE_DIR', env) ?? path.join(os.homedir(), '.cache', 'temporal-evm-indexer', 'bin');
}

/** TEMPORAL_CLI_PATH: a Temporal CLI to use instead of searching PATH. */
export function temporalCliPath(env: Env = process.env): string | undefined {
  return raw('TEMPORAL_CLI_PATH', env);
}

/** The directories of PATH, to find executables in. */
export function searchPath(env: Env = process.env): string[] {
  return (env.PATH ?? '').split(path.delimiter).filter(Boolean);
}

/** Where local runs keep their state (Temporal's, anvil's, the embedded PostgreSQL's, NATS'), relative to the working directory. */
export const DEV_STATE_DIR = '.indexer';

// --- The read API (v3: indexer serve) -------------------------------------------------------

export interface ApiEnv {
  /** API_PORT, default 42069: GraphQL, the IDE, /health and /metrics. */
  port: number;
  /** API_HOST, default 127.0.0.1 (0.0.0.0 to serve other machines). */
  host: string;
  /** API_STATEMENT_TIMEOUT_MS, default 5000: PostgreSQL cancels a request's statement that runs longer. */
  statementTimeoutMs: number;
}

/** `indexer serve`'s settings (docs/api.md). */
export function apiEnv(env: Env = process.env): ApiEnv {
  return {
    port: read('API_PORT', env, port) ?? 42069,
    host: read('API_HOST', env, z.string().regex(/^[^\s/]+$/, 'must be a host name or address, e.g. 0.0.0.0')) ?? '127.0.0.1',
    statementTimeoutMs: read('API_STATEMENT_TIMEOUT_MS', env, positiveInteger) ?? 5000,
  };
}

/**
 * GRAPHILE_ENV (PostGraphile's, read when grafast loads): production unless set, so the API runs
 * in grafast's production mode without printing a warning about the variable at every start.
 */
export function defaultGraphileEnv(env: Env = process.env): void {
  if (raw('GRAPHILE_ENV', env) === undefined && raw('NODE_ENV', env) === undefined) env.GRAPHILE_ENV = 'production';
}
