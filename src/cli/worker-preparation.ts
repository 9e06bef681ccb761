import { Client } from '@temporalio/client';
import { findConfigPath, loadConfig } from '../config/load';
import type { ResolvedConfig } from '../config/schema';
import type { Database } from '../dev/database';
import { allRpcUrls } from '../env';
import { CliError, oneLine } from '../errors';
import type { Logger } from '../logger';
import { IndexerMetrics } from '../worker/metrics';
import { startOpsServer } from '../worker/ops-server';
import { configRpcUrls, rpcUrlResolver } from '../rpc/endpoints';
import { exportIndexerStatuses } from '../worker/status-metrics';
import { resolveNatsServers, resolveNatsUrl } from '../stages/stream/nats-url';
import type { IndexerWorker, WorkerHostSettings } from '../worker';
import { chainRpcUrls, checkChainId } from './config-specs';

/** `indexer worker`'s options. */
export interface WorkerCommandOptions {
  config?: string;
  /** Explicit opt-in: when DATABASE_URL is not set, an embedded PostgreSQL (on this port, or 54329). */
  embeddedPostgres?: boolean | number;
  /** Where the embedded PostgreSQL keeps its data. */
  stateDir?: string;
}

/**
 * What `indexer worker` reads, checks and starts for its activities: the config, every chain's
 * id, the database, /metrics and /health. worker-command.ts loads this module (the config's
 * schema, viem, prom-client) and runs it while Worker.create boots the workflow thread.
 */
export interface WorkerPreparation {
  host: WorkerHostSettings;
  /** The RPC URLs of every chain checked, by chain id (for the "worker started" line, redacted there). */
  chains: Map<number, string[]>;
  database: Database;
  natsLabel: string;
  /** Once the worker is up: the indexers' status exported on /metrics (when it is served). */
  exportStatuses: (worker: IndexerWorker, namespace: string, taskQueue: string) => void;
  /** Stops what was started: the ops server, an embedded PostgreSQL. */
  close: () => Promise<void>;
}

export interface PreparationContext {
  options: WorkerCommandOptions;
  /** DATABASE_URL, when set. */
  databaseUrl?: string;
  metricsPort?: number;
  /** Where the Temporal SDK's own Prometheus exporter listens (Runtime.install), for /metrics to include. */
  sdkMetricsAddress?: string;
  temporalAddress: string;
  logger: Logger;
  /** The worker, once created: /health is "not ready" until it runs. */
  worker: () => IndexerWorker | undefined;
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

export async function prepareWorker(context: PreparationContext): Promise<WorkerPreparation> {
  const { options, logger } = context;
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

  // The embedded PostgreSQL (src/dev/) is loaded only on the opt-in: production never loads dev code.
  const database: Database = context.databaseUrl
    ? { url: context.databaseUrl, embedded: false, stop: async () => undefined }
    : await import('../dev/database').then(({ EMBEDDED_POSTGRES_PORT, resolveDatabase }) =>
        resolveDatabase({ port: typeof options.embeddedPostgres === 'number' ? options.embeddedPostgres : EMBEDDED_POSTGRES_PORT, stateDir: options.stateDir }),
      );
  if (database.embedded) logger.warn({ url: database.url }, 'using an embedded PostgreSQL (--embedded-postgres): for local use only; set DATABASE_URL in production');
  const metrics = new IndexerMetrics();

  // /metrics and /health before the worker runs, so an orchestrator sees "not ready" while Temporal is unreachable.
  let ops: { url: string; close: () => Promise<void> } | undefined;
  if (context.metricsPort) {
    const ready = async () => {
      const worker = context.worker();
      if (!worker || worker.worker.getState() !== 'RUNNING') return { ready: false, reason: `not connected to Temporal at ${context.temporalAddress}` };
      try {
        await worker.pool.query('SELECT 1');
        return { ready: true };
      } catch (error) {
        return { ready: false, reason: `PostgreSQL: ${worker.redactor.redact(oneLine(error))}` };
      }
    };
    metrics.watchReadiness(ready);
    try {
      ops = await startOpsServer({ port: context.metricsPort, metrics, sdkMetricsUrl: context.sdkMetricsAddress ? `http://${context.sdkMetricsAddress}/metrics` : undefined, ready });
    } catch (error) {
      await database.stop();
      throw error;
    }
    logger.info({ url: ops.url }, 'metrics and health endpoints up');
  }
  const rpcUrls = rpcUrlResolver((chainId) => {
    const chain = Object.values(config?.chains ?? {}).find((c) => c.id === chainId);
    return configRpcUrls(chain?.rpc);
  });
  return {
    host: { databaseUrl: database.url, rpcUrls, knownRpcUrls: [...chains.values()].flat(), natsUrl, metrics },
    chains,
    database,
    natsLabel: nats.label,
    exportStatuses: (worker, namespace, taskQueue) => {
      if (!ops) return;
      // Paused, lastError, mode, lag … come from the workflows' status, read when Prometheus scrapes.
      exportIndexerStatuses({ client: new Client({ connection: worker.connection, namespace }), taskQueue, metrics, logger });
    },
    close: async () => {
      await ops?.close();
      await database.stop();
    },
  };
}
