import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import getPort from 'get-port';
import { databaseUrl as databaseUrlFromEnv, metricsPort as metricsPortFromEnv, requireDatabaseUrl, tracingEnv, workerTuning } from '../env';
import { CliError, oneLine } from '../errors';
import { createLogger, type Logger } from '../logger';
import { redactUrl } from '../redact';
import { startTracing } from '../tracing';
import { bootIndexerWorker, type IndexerWorker } from '../worker';
import { cliSettings } from './settings';
import type { WorkerCommandOptions, WorkerPreparation } from './worker-preparation';

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

export type { WorkerCommandOptions };

/**
 * `indexer worker`: check every configured chain's id, then host workflows and activities until
 * SIGINT/SIGTERM. Worker.create comes first, with only what the environment says: the config,
 * the chain checks, the database and /metrics are prepared (worker-preparation.ts, loaded then)
 * while the workflow thread boots, on the other core, instead of before it. A config or chain that
 * fails its check is a one-line error all the same, and the worker, created but never run, has
 * polled for nothing.
 */
export async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  // The environment first: a bad or missing variable is one line before anything starts.
  const settings = cliSettings();
  const databaseUrl = options.embeddedPostgres ? databaseUrlFromEnv() : requireDatabaseUrl('worker', 'indexer worker --embedded-postgres');
  const tuning = workerTuning();
  const metricsPort = metricsPortFromEnv();
  tracingEnv(); // OTEL_EXPORTER_OTLP_ENDPOINT, checked now; the exporter starts with the worker
  const logger = createLogger({ name: 'worker' });

  const sdkMetricsAddress = metricsPort ? `127.0.0.1:${await getPort({ host: '127.0.0.1' })}` : undefined;
  installTemporalRuntime(logger, { sdkMetricsAddress });
  const tracing = await startTracing({ serviceName: 'indexer-worker' });
  let indexerWorker: IndexerWorker | undefined;
  let preparation: Promise<WorkerPreparation> | undefined;
  // Asked for by bootIndexerWorker once the workflow thread is spawned; once, whatever the attempts.
  const prepare = () =>
    (preparation ??= import('./worker-preparation').then(({ prepareWorker }) =>
      prepareWorker({ options, databaseUrl, metricsPort, sdkMetricsAddress, temporalAddress: settings.temporalAddress, logger, worker: () => indexerWorker }),
    ));
  /** How the preparation failed, once it has; undefined while it runs, when it succeeded, or when it never began. */
  const preparationFailure = async () => preparation?.then(() => undefined, (error: unknown) => ({ error }));
  const cleanUp = async () => {
    await (await preparation?.catch(() => undefined))?.close();
    await tracing?.shutdown();
  };

  let stopping = false;
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
      indexerWorker = await bootIndexerWorker({ ...settings, ...tuning, logger, tracing }, async () => (await prepare()).host);
    } catch (error) {
      // A bad config or chain ends the worker whatever Temporal does (an RPC that refused is no reason to retry Temporal).
      const failure = await preparationFailure();
      if (failure) {
        await cleanUp();
        throw failure.error;
      }
      const message = oneLine(error);
      if (!/connect|transport|unavailable|dns|refused|deadline/i.test(message)) {
        await cleanUp();
        throw new CliError(message);
      }
      logger.warn({ attempt }, `cannot reach Temporal at ${settings.temporalAddress} (${message}); retrying`);
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1_000 * attempt)));
    }
  }
  if (!indexerWorker) {
    await cleanUp();
    return;
  }
  // bootIndexerWorker resolved, so the preparation it waited for has.
  const prepared = await prepare();
  prepared.exportStatuses(indexerWorker, settings.namespace, settings.taskQueue);
  logger.info(
    {
      taskQueue: settings.taskQueue,
      temporal: settings.temporalAddress,
      database: prepared.database.embedded ? 'embedded' : redactUrl(prepared.database.url),
      chains: Object.fromEntries([...prepared.chains].map(([id, urls]) => [id, urls.map(redactUrl)])),
      nats: prepared.natsLabel,
    },
    'worker started',
  );
  try {
    await indexerWorker.run();
  } finally {
    await cleanUp();
  }
  logger.info('worker stopped');
}
