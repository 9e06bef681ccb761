import { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { findConfigPath, loadConfig } from '../config/load';
import type { ResolvedConfig } from '../config/schema';
import { EMBEDDED_POSTGRES_PORT, resolveDatabase } from '../dev/database';
import { allRpcUrls, databaseUrl as databaseUrlFromEnv, metricsPort as metricsPortFromEnv, requireDatabaseUrl, tracingEnv, workerTuning } from '../env';
import { oneLine } from '../errors';
import { createLogger, type Logger } from '../logger';
import { redactUrl } from '../redact';
import { configRpcUrls, rpcUrlResolver } from '../rpc/endpoints';
import getPort from 'get-port';
import { IndexerMetrics } from '../metrics';
import { startOpsServer } from '../ops-server';
import { exportIndexerStatuses } from '../status-metrics';
import { startTracing } from '../tracing';
import { createIndexerWorker, type IndexerWorker } from '../worker';
import { chainRpcUrls, checkChainId } from './config-specs';
import { CliError } from '../errors';
import { cliSettings } from './settings';
import { resolveNatsServers, resolveNatsUrl } from '../stream/nats-url';

let runtimeInstalled = false;

/**
 * Installs the Temporal SDK runtime: its logs through pino (warn and above unless LOG_LEVEL says
 * debug), no signal handlers, and, when asked, its own Prometheus exporter on a loopback port.
 */
export function installTemporalRuntime(logger: Logger, options: { sdkMetricsAddress?: string } = {}): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level: LogLevel = logger.level === 'debug' || logger.level === 'trace' ? 'DEBUG' : 'WARN';
  Runtime.install({
    // Our commands handle SIGINT/SIGTERM themselves (graceful worker shutdown, then cleanup of
    // what they started); the SDK's own handlers would race them.
    shutdownSignals: [],
    logger: new DefaultLogger(level, ({ level: l, message, meta }) => {
      const method = l === 'ERROR' ? 'error' : l === 'WARN' ? 'warn' : l === 'INFO' ? 'info' : 'debug';
      logger[method]({ temporal: true, ...(meta as object) }, message);
    }),
    ...(options.sdkMetricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.sdkMetricsAddress } } } } : {}),
  });
}

/** Chain ids to check at start-up: the config's chains and every RPC_URL_<id> in the environment. */
function chainsToCheck(config: ResolvedConfig | undefined): Map<number, string[]> {
  const chains = new Map<number, string[]>();
  for (const chain of Object.values(config?.chains ?? {})) {
    const urls = config ? chainRpcUrls(config, chain.id) : undefined;
    if (urls) chains.set(chain.id, urls);
  }
  for (const [chainId, urls] of allRpcUrls()) chains.set(chainId, urls);
  return chains;
}

export interface WorkerCommandOptions {
  config?: string;
  /** Explicit opt-in: when DATABASE_URL is not set, an embedded PostgreSQL (on this port, or 54329). */
  embeddedPostgres?: boolean | number;
  /** Where the embedded PostgreSQL keeps its data. */
  stateDir?: string;
}

/** `indexer worker`: check every configured chain's id, then host workflows and activities until SIGINT/SIGTERM. */
export async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  // The environment first: a bad or missing variable is one line before anything starts.
  const settings = cliSettings();
  const databaseUrl = options.embeddedPostgres ? databaseUrlFromEnv() : requireDatabaseUrl('worker', 'indexer worker --embedded-postgres');
  const tuning = workerTuning();
  const metricsPort = metricsPortFromEnv();
  tracingEnv(); // OTEL_EXPORTER_OTLP_ENDPOINT, checked now; the exporter starts with the worker
  const logger = createLogger({ name: 'worker' });
  const configPath = findConfigPath(options.config);
  const config = configPath ? (await loadConfig(configPath)).config : undefined;

  // Checked here so a malformed NATS_URL is a one-line error at start-up, not a stage that never publishes.
  const natsUrl = resolveNatsUrl(config?.stream?.nats.url);
  const nats = resolveNatsServers(config?.stream?.nats.url);
  const chains = chainsToCheck(config);
  for (const [chainId, urls] of chains) {
    const check = await checkChainId(chainId, urls);
    if (check.ok) continue;
    if (check.fatal) throw new CliError(check.message);
    logger.warn(check.message);
  }

  const database = await resolveDatabase({
    url: databaseUrl,
    port: typeof options.embeddedPostgres === 'number' ? options.embeddedPostgres : EMBEDDED_POSTGRES_PORT,
    stateDir: options.stateDir,
  });
  if (database.embedded) logger.warn({ url: database.url }, 'using an embedded PostgreSQL (--embedded-postgres): for local use only; set DATABASE_URL in production');
  const metrics = new IndexerMetrics();
  let indexerWorker: IndexerWorker | undefined;
  let stopping = false;

  // /metrics and /health first, so an orchestrator sees "not ready" while Temporal is unreachable.
  let ops: { url: string; close: () => Promise<void> } | undefined;
  let sdkMetricsAddress: string | undefined;
  if (metricsPort) {
    sdkMetricsAddress = `127.0.0.1:${await getPort({ host: '127.0.0.1' })}`;
    const ready = async () => {
      if (!indexerWorker || indexerWorker.worker.getState() !== 'RUNNING') return { ready: false, reason: `not connected to Temporal at ${settings.temporalAddress}` };
      try {
        await indexerWorker.pool.query('SELECT 1');
        return { ready: true };
      } catch (error) {
        return { ready: false, reason: `PostgreSQL: ${indexerWorker.redactor.redact(oneLine(error))}` };
      }
    };
    metrics.watchReadiness(ready);
    ops = await startOpsServer({ port: metricsPort, metrics, sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`, ready });
    logger.info({ url: ops.url }, 'metrics and health endpoints up');
  }
  installTemporalRuntime(logger, { sdkMetricsAddress });
  const tracing = await startTracing({ serviceName: 'indexer-worker' });
  const rpcUrls = rpcUrlResolver((chainId) => {
    const chain = Object.values(config?.chains ?? {}).find((c) => c.id === chainId);
    return configRpcUrls(chain?.rpc);
  });
  const stop = () => {
    stopping = true;
    logger.info({}, 'shutting down: in-flight activities finish or are handed back');
    indexerWorker?.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  // Temporal may come up after the worker (compose, Kubernetes): keep trying instead of exiting.
  for (let attempt = 1; !indexerWorker && !stopping; attempt++) {
    try {
      indexerWorker = await createIndexerWorker({ ...settings, ...tuning, databaseUrl: database.url, rpcUrls, knownRpcUrls: [...chains.values()].flat(), natsUrl, logger, metrics, tracing });
    } catch (error) {
      const message = oneLine(error);
      if (!/connect|transport|unavailable|dns|refused|deadline/i.test(message)) {
        await ops?.close();
        await tracing?.shutdown();
        await database.stop();
        throw new CliError(message);
      }
      logger.warn({ attempt }, `cannot reach Temporal at ${settings.temporalAddress} (${message}); retrying`);
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1_000 * attempt)));
    }
  }
  if (!indexerWorker) {
    await ops?.close();
    await tracing?.shutdown();
    await database.stop();
    return;
  }
  if (ops) {
    // Paused, lastError, mode, lag … come from the workflows' status, read when Prometheus scrapes.
    const client = new Client({ connection: indexerWorker.connection, namespace: settings.namespace });
    exportIndexerStatuses({ client, taskQueue: settings.taskQueue, metrics, logger });
  }
  logger.info(
    {
      taskQueue: settings.taskQueue,
      temporal: settings.temporalAddress,
      database: database.embedded ? 'embedded' : redactUrl(database.url),
      chains: Object.fromEntries([...chains].map(([id, urls]) => [id, urls.map(redactUrl)])),
      nats: nats.label,
    },
    'worker started',
  );
  try {
    await indexerWorker.run();
  } finally {
    await ops?.close();
    await tracing?.shutdown();
    await database.stop();
  }
  logger.info('worker stopped');
}
