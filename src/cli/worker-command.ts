import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { findConfigPath, loadConfig } from '../config/load';
import type { ResolvedConfig } from '../config/schema';
import { resolveDatabase } from '../dev/database';
import { oneLine } from '../errors';
import { createLogger, type Logger } from '../logger';
import { redactUrl } from '../redact';
import { configRpcUrls, rpcUrlResolver } from '../rpc/endpoints';
import getPort from 'get-port';
import { IndexerMetrics } from '../metrics';
import { startOpsServer } from '../ops-server';
import { createIndexerWorker, workerTuningFromEnv, type IndexerWorker } from '../worker';
import { chainRpcUrls, checkChainId } from './config-specs';
import { CliError } from '../errors';
import { cliSettings } from './settings';
import { parseNatsUrl, resolveNatsUrl } from '../stream/nats-url';

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
  for (const [key, value] of Object.entries(process.env)) {
    const m = /^RPC_URL_(\d+)$/.exec(key);
    if (m && value) chains.set(Number(m[1]), value.split(',').map((s) => s.trim()).filter(Boolean));
  }
  return chains;
}

export interface WorkerCommandOptions {
  config?: string;
}

/** `indexer worker`: check every configured chain's id, then host workflows and activities until SIGINT/SIGTERM. */
export async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  const logger = createLogger({ name: 'worker' });
  const settings = cliSettings();
  const configPath = findConfigPath(options.config);
  const config = configPath ? (await loadConfig(configPath)).config : undefined;

  const tuning = workerTuningFromEnv();
  // Checked here so a malformed NATS_URL is a one-line error at start-up, not a stage that never publishes.
  const natsUrl = resolveNatsUrl(config?.stream?.nats.url);
  const nats = parseNatsUrl(natsUrl, process.env.NATS_URL ? 'NATS_URL' : 'stream.nats.url');
  const chains = chainsToCheck(config);
  for (const [chainId, urls] of chains) {
    const check = await checkChainId(chainId, urls);
    if (check.ok) continue;
    if (check.fatal) throw new CliError(check.message);
    logger.warn(check.message);
  }

  const database = await resolveDatabase();
  const metrics = new IndexerMetrics();
  let indexerWorker: IndexerWorker | undefined;
  let stopping = false;

  // /metrics and /health first, so an orchestrator sees "not ready" while Temporal is unreachable.
  const metricsPort = process.env.METRICS_PORT ? Number(process.env.METRICS_PORT) : undefined;
  let ops: { url: string; close: () => Promise<void> } | undefined;
  let sdkMetricsAddress: string | undefined;
  if (metricsPort) {
    sdkMetricsAddress = `127.0.0.1:${await getPort({ host: '127.0.0.1' })}`;
    ops = await startOpsServer({
      port: metricsPort,
      metrics,
      sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`,
      ready: async () => {
        if (!indexerWorker || indexerWorker.worker.getState() !== 'RUNNING') return { ready: false, reason: `not connected to Temporal at ${settings.temporalAddress}` };
        try {
          await indexerWorker.pool.query('SELECT 1');
          return { ready: true };
        } catch (error) {
          return { ready: false, reason: `PostgreSQL: ${indexerWorker.redactor.redact(oneLine(error))}` };
        }
      },
    });
    logger.info({ url: ops.url }, 'metrics and health endpoints up');
  }
  installTemporalRuntime(logger, { sdkMetricsAddress });
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
      indexerWorker = await createIndexerWorker({ ...settings, ...tuning, databaseUrl: database.url, rpcUrls, knownRpcUrls: [...chains.values()].flat(), natsUrl, logger, metrics });
    } catch (error) {
      const message = oneLine(error);
      if (!/connect|transport|unavailable|dns|refused|deadline/i.test(message)) {
        await ops?.close();
        await database.stop();
        throw new CliError(message);
      }
      logger.warn({ attempt }, `cannot reach Temporal at ${settings.temporalAddress} (${message}); retrying`);
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1_000 * attempt)));
    }
  }
  if (!indexerWorker) {
    await ops?.close();
    await database.stop();
    return;
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
    await database.stop();
  }
  logger.info('worker stopped');
}
