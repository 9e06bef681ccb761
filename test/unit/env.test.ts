import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { allRpcUrls, databaseUrl, InvalidEnvError, logLevel, metricsPort, natsUrl, requireDatabaseUrl, rpcUrls, temporalEnv, tracingEnv, workerTuning } from '../../src/env';
import { oneLine } from '../../src/errors';

function fails(fn: () => unknown, expected: RegExp | string): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidEnvError, `expected InvalidEnvError, got ${String(error)}`);
    const line = oneLine(error);
    if (typeof expected === 'string') assert.equal(line, expected);
    else assert.match(line, expected);
    assert.ok(!line.includes('\n'));
    return line;
  }
  assert.fail('expected an error');
}

test('defaults when nothing is set, and empty values count as unset', () => {
  assert.deepEqual(temporalEnv({}), { address: 'localhost:7233', addressSet: false, namespace: 'default', taskQueue: 'indexer' });
  assert.deepEqual(temporalEnv({ TEMPORAL_ADDRESS: '', TEMPORAL_TASK_QUEUE: ' ' }).taskQueue, 'indexer');
  assert.equal(databaseUrl({}), undefined);
  assert.equal(metricsPort({ METRICS_PORT: '' }), undefined);
  assert.equal(logLevel({}), 'info');
  assert.equal(tracingEnv({}), undefined);
  assert.deepEqual(workerTuning({}), { maxConcurrentActivityTaskExecutions: undefined, maxTaskQueueActivitiesPerSecond: undefined, maxCachedWorkflows: undefined, shutdownGraceTime: undefined, heapBoundMb: 128 });
});

test('good values are parsed and typed', () => {
  assert.deepEqual(temporalEnv({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'prod', TEMPORAL_TASK_QUEUE: 'q1' }), {
    address: 'temporal:7233',
    addressSet: true,
    namespace: 'prod',
    taskQueue: 'q1',
  });
  assert.equal(metricsPort({ METRICS_PORT: '9464' }), 9464);
  assert.deepEqual(workerTuning({ WORKER_MAX_CONCURRENT_ACTIVITIES: '8', WORKER_MAX_ACTIVITIES_PER_SECOND: '2.5', WORKER_MAX_CACHED_WORKFLOWS: '100', WORKER_SHUTDOWN_GRACE_TIME: '25 s', WORKER_HEAP_BOUND_MB: '0' }), {
    maxConcurrentActivityTaskExecutions: 8,
    maxTaskQueueActivitiesPerSecond: 2.5,
    maxCachedWorkflows: 100,
    shutdownGraceTime: '25s',
    heapBoundMb: 0,
  });
  assert.deepEqual(rpcUrls(1, { RPC_URL_1: 'https://a.example/v2/k, wss://b.example' }), ['https://a.example/v2/k', 'wss://b.example']);
  assert.deepEqual([...allRpcUrls({ RPC_URL_10: 'http://x:1', RPC_URL_1: 'http://y:2', OTHER: 'z' })], [
    [1, ['http://y:2']],
    [10, ['http://x:1']],
  ]);
  assert.equal(databaseUrl({ DATABASE_URL: 'postgresql://u:p@h:5432/d' }), 'postgresql://u:p@h:5432/d');
  assert.deepEqual(tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), { endpoint: 'http://collector:4318', signalSpecific: false, serviceName: undefined });
  assert.equal(logLevel({ LOG_LEVEL: 'debug' }), 'debug');
});

test('a bad value is one line naming the variable and what it must be', () => {
  fails(() => metricsPort({ METRICS_PORT: 'abc' }), 'METRICS_PORT=abc must be a TCP port (1-65535)');
  fails(() => metricsPort({ METRICS_PORT: '70000' }), 'METRICS_PORT=70000 must be a TCP port (1-65535)');
  fails(() => temporalEnv({ TEMPORAL_ADDRESS: 'http://temporal' }), /^TEMPORAL_ADDRESS=http:\/\/temporal must be host:port/);
  fails(() => workerTuning({ WORKER_MAX_CONCURRENT_ACTIVITIES: '0' }), 'WORKER_MAX_CONCURRENT_ACTIVITIES=0 must be a whole number ≥ 1');
  fails(() => workerTuning({ WORKER_MAX_ACTIVITIES_PER_SECOND: '-1' }), 'WORKER_MAX_ACTIVITIES_PER_SECOND=-1 must be a positive number');
  fails(() => workerTuning({ WORKER_HEAP_BOUND_MB: '1e3' }), 'WORKER_HEAP_BOUND_MB=1e3 must be a whole number (0 or more)');
  fails(() => workerTuning({ WORKER_SHUTDOWN_GRACE_TIME: 'soon' }), /^WORKER_SHUTDOWN_GRACE_TIME=soon must be a duration like 25s/);
  fails(() => logLevel({ LOG_LEVEL: 'loud' }), /^LOG_LEVEL=loud must be one of fatal, error, warn, info, debug, trace, silent$/);
  fails(() => tracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), /^OTEL_EXPORTER_OTLP_ENDPOINT=collector:4318 must be an http\(s\):\/\/ URL/);
});

test('variables that may hold secrets are never echoed in the error', () => {
  const db = fails(() => databaseUrl({ DATABASE_URL: 'mysql://root:hunter22@db/x' }), /^DATABASE_URL must be a postgres:\/\/ URL/);
  assert.ok(!db.includes('hunter22'));
  const rpc = fails(() => rpcUrls(1, { RPC_URL_1: 'https://ok.example/v2/KEY1,eth.example/v2/KEY2' }), /^RPC_URL_1 must be a comma-separated list of http\(s\):\/\/ or ws\(s\):\/\/ URLs/);
  assert.ok(!rpc.includes('KEY'));
  const nats = fails(() => natsUrl({ NATS_URL: 'user:pass@broker' }), /^NATS_URL must be a nats:\/\/ URL/);
  assert.ok(!nats.includes('pass'));
});

test('DATABASE_URL is required where a silent embedded database would lose data', () => {
  fails(() => requireDatabaseUrl('worker', 'indexer worker --embedded-postgres', {}), /^DATABASE_URL is not set: indexer worker needs the PostgreSQL .*--embedded-postgres/);
  assert.equal(requireDatabaseUrl('start', '', { DATABASE_URL: 'postgres://h/d' }), 'postgres://h/d');
});

test('src/ reads the environment only through src/env.ts', () => {
  const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
  const offenders: string[] = [];
  for (const entry of readdirSync(SRC, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (path.relative(SRC, file) === 'env.ts') continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/process\.env\b/.test(line)) offenders.push(`${path.relative(SRC, file)}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(offenders, []);
});
