import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { findConfigPath, loadConfig, parseConfig } from '../config/load';
import { buildSpecs } from '../config/resolve';
import type { ResolvedConfig } from '../config/schema';
import { startAnvil, type Anvil } from '../dev/anvil';
import { resolveDatabase } from '../dev/database';
import { apiEnv, databaseUrl, temporalEnv } from '../env';
import { loadApiServer } from './serve-command';
import { demoTokenArtifact, startDemoChain } from '../dev/demo';
import { startTemporalDevServer } from '../dev/temporal-server';
import { natsServerBinary, rememberDevNatsUrl, startNatsServer } from '../dev/nats-server';
import { waitForPort } from '../dev/processes';
import { DEFAULT_NATS_URL, envNatsUrl, parseNatsUrl } from '../stages/stream/nats-url';
import { CliError, oneLine } from '../errors';
import { createLogger } from '../logger';
import { IndexerMetrics } from '../worker/metrics';
import { startOpsServer } from '../worker/ops-server';
import { exportIndexerStatuses } from '../worker/status-metrics';
import { redactUrl } from '../redact';
import { envRpcUrls, configRpcUrls } from '../rpc/endpoints';
import { createIndexerWorker } from '../worker';
import { checkChainId } from './config-specs';
import { COMPILED } from '../worker/workflow-bundle';
import { cliSettings } from './settings';
import { startIndexers } from './start-command';
import { watchStatus } from './status-command';
import { connectClient } from './temporal';
import { installTemporalRuntime } from './worker-command';
import { DEV_STATE_DIR } from '../env';

export interface DevOptions {
  config?: string;
  temporalPort?: number;
  uiPort?: number;
  anvilPort?: number;
  postgresPort?: number;
  metricsPort?: number;
  /** The GraphQL API's port (another free one when taken). */
  apiPort?: number;
  /** Where Temporal's and anvil's state (and the worker log) live; `.indexer` by default. */
  stateDir?: string;
}

async function isFree(port: number): Promise<boolean> {
  return (await getPort({ port, host: '127.0.0.1' })) === port;
}

/** The demo's handlers module: balances of the demo token (a plain .mjs file; the build copies it next to the CLI). */
export const DEMO_HANDLERS = fileURLToPath(new URL(COMPILED ? './demo-handlers.mjs' : '../dev/demo-handlers.mjs', import.meta.url));

/** The demo's config, through the same validation and defaults as a user's. */
function demoConfig(rpc: string, token: string, stream: boolean): ResolvedConfig {
  return parseConfig(
    {
      name: 'demo',
      chains: { local: { id: 31337, rpc, confirmations: 0, pollIntervalMs: 1000 } },
      contracts: [{ name: 'Token', chain: 'local', address: token, abi: demoTokenArtifact().abi, startBlock: 0 }],
      handlers: DEMO_HANDLERS,
      ...(stream ? { stream: { nats: {}, delivery: 'instant' } } : {}),
    },
    path.dirname(DEMO_HANDLERS),
  );
}

/**
 * Where the demo streams to: NATS_URL when set; else a nats-server of its own (state kept in the
 * state dir beside Temporal's and anvil's, so the stream starts over exactly when they do); else a
 * server already listening on 4222; else none (the demo runs without a stream).
 */
async function devNats(stateDir: string, say: (line: string) => void, cleanups: Array<() => Promise<void> | void>): Promise<string | undefined> {
  const fromEnv = envNatsUrl();
  if (fromEnv) return fromEnv;
  if (natsServerBinary()) {
    say('starting nats-server with JetStream …');
    const port = (await isFree(4222)) ? 4222 : await getPort({ host: '127.0.0.1' });
    const server = await startNatsServer({ port, storeDir: path.join(stateDir, 'nats') });
    cleanups.push(() => server.stop());
    cleanups.push(rememberDevNatsUrl(stateDir, server.url));
    return server.url;
  }
  const listening = await waitForPort(4222, '127.0.0.1', 500).then(() => true, () => false);
  return listening ? DEFAULT_NATS_URL : undefined;
}

/** The API for `indexer dev`: on `port`, or another free one when it is taken. */
async function startDevApi(port: number, databaseUrl: string, name: string, logger: ReturnType<typeof createLogger>) {
  const free = (await isFree(port)) ? port : await getPort({ host: '127.0.0.1' });
  const { startApiServer } = await loadApiServer();
  return startApiServer({ databaseUrl, port: free, host: '127.0.0.1', statementTimeoutMs: apiEnv().statementTimeoutMs, indexers: [name], logger });
}

/** One query to try, as a curl command: the demo's richest balances, or where a user's indexer stands. */
function exampleQuery(url: string, demo: boolean): string {
  const query = demo
    ? '{ balances(first: 5, orderBy: BALANCE_DESC) { nodes { account balance transfers } } _meta { chainId checkpoint handlersCheckpoint } }'
    : '{ _meta { chainId checkpoint handlersCheckpoint head mode reorgs } }';
  return `curl -s ${url} -H 'content-type: application/json' -d '${JSON.stringify({ query })}'`;
}

/**
 * `indexer dev`: everything local. The Temporal dev server (state kept in .indexer/ so a restart
 * resumes the same workflows), PostgreSQL (embedded unless DATABASE_URL), anvil with a demo token
 * and steady transfers (unless a config names its own chains), a worker, the workflows, the
 * GraphQL read API, and a live status view. Ctrl-C stops everything it started.
 */
export async function devCommand(options: DevOptions): Promise<void> {
  const TEMPORAL_PORT = options.temporalPort ?? 7233;
  const TEMPORAL_UI_PORT = options.uiPort ?? 8233;
  const ANVIL_PORT = options.anvilPort ?? 8545;
  const stateDir = path.resolve(options.stateDir ?? DEV_STATE_DIR);
  mkdirSync(stateDir, { recursive: true });
  const logFile = path.join(stateDir, 'worker.log');
  const logger = createLogger({ name: 'dev', pretty: false, destination: createWriteStream(logFile, { flags: 'a' }) });
  const cleanups: Array<() => Promise<void> | void> = [];
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const settings = cliSettings();

  const shutdown = async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  };

  try {
    // Temporal
    let uiUrl: string | undefined;
    if (!temporalEnv().addressSet) {
      if (!(await isFree(TEMPORAL_PORT))) {
        throw new CliError(`port ${TEMPORAL_PORT} is in use: stop the other Temporal server or set TEMPORAL_ADDRESS to use it`);
      }
      say('starting Temporal dev server …');
      const uiPort = (await isFree(TEMPORAL_UI_PORT)) ? TEMPORAL_UI_PORT : await getPort();
      const server = await startTemporalDevServer({ port: TEMPORAL_PORT, uiPort, dbFilename: path.join(stateDir, 'temporal.db') });
      cleanups.push(() => server.stop());
      settings.temporalAddress = server.address;
      uiUrl = server.uiUrl;
    }

    // PostgreSQL
    const url = databaseUrl();
    say(url ? 'using DATABASE_URL' : 'starting embedded PostgreSQL …');
    const database = await resolveDatabase({ url, port: options.postgresPort, stateDir });
    cleanups.push(() => database.stop());

    // Chains: the user's config, or the demo chain.
    const configPath = findConfigPath(options.config);
    let config: ResolvedConfig;
    let natsUrl: string | undefined;
    const anvils: Anvil[] = [];
    if (configPath) {
      config = (await loadConfig(configPath)).config;
      for (const [key, chain] of Object.entries(config.chains)) {
        if (envRpcUrls(chain.id) ?? configRpcUrls(chain.rpc)) continue;
        say(`starting anvil for chain ${key} (${chain.id}) …`);
        const anvil = await startAnvil({ port: await getPort(), chainId: chain.id, blockTime: 1, stateFile: path.join(stateDir, `anvil-${chain.id}.json`) });
        cleanups.push(() => anvil.stop());
        anvils.push(anvil);
        config.chains[key] = { ...chain, rpc: anvil.url };
      }
    } else {
      say('starting anvil with a demo token and transfers …');
      const port = (await isFree(ANVIL_PORT)) ? ANVIL_PORT : await getPort();
      const anvil = await startAnvil({ port, chainId: 31337, blockTime: 1, stateFile: path.join(stateDir, 'anvil-state.json') });
      cleanups.push(() => anvil.stop());
      anvils.push(anvil);
      const demo = await startDemoChain(anvil.url, { onError: (e) => logger.warn({ err: oneLine(e) }, 'demo traffic') });
      cleanups.push(() => demo.stopTraffic());
      natsUrl = await devNats(stateDir, say, cleanups);
      if (!natsUrl) say('no NATS server found: the demo runs without a stream (set NATS_URL, or install nats-server, to stream it)');
      config = demoConfig(anvil.url, demo.token, natsUrl !== undefined);
    }
    natsUrl ??= config.stream ? (envNatsUrl() ?? config.stream.nats.url ?? DEFAULT_NATS_URL) : undefined;
    const specs = buildSpecs(config, (m) => say(`warning: ${m}`));
    const urlsFor = (chainId: number) => {
      const chain = Object.values(config.chains).find((c) => c.id === chainId);
      return envRpcUrls(chainId) ?? configRpcUrls(chain?.rpc);
    };
    for (const spec of specs) {
      const urls = urlsFor(spec.chainId);
      if (!urls) continue;
      const check = await checkChainId(spec.chainId, urls);
      if (!check.ok && check.fatal) throw new CliError(check.message);
      if (!check.ok) say(`warning: ${check.message}`);
    }

    // Worker, in this process; its logs go to a file so the status view stays readable.
    const metrics = new IndexerMetrics();
    const sdkMetricsAddress = `127.0.0.1:${await getPort({ host: '127.0.0.1' })}`;
    installTemporalRuntime(logger, { sdkMetricsAddress });
    const worker = await createIndexerWorker({
      ...settings,
      databaseUrl: database.url,
      rpcUrls: urlsFor,
      knownRpcUrls: specs.flatMap((s) => urlsFor(s.chainId) ?? []),
      natsUrl,
      logger,
      metrics,
    });
    const metricsPort = (await isFree(options.metricsPort ?? 9464)) ? (options.metricsPort ?? 9464) : await getPort();
    const ops = await startOpsServer({
      port: metricsPort,
      host: '127.0.0.1',
      metrics,
      sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`,
      ready: async () => ({ ready: worker.worker.getState() === 'RUNNING' }),
    });
    cleanups.push(() => ops.close());
    const workerDone = worker.run();
    cleanups.push(async () => {
      worker.shutdown();
      await workerDone.catch(() => undefined);
    });

    const client = await connectClient(settings);
    cleanups.push(() => client.connection.close());
    metrics.watchReadiness(async () => ({ ready: worker.worker.getState() === 'RUNNING' }));
    exportIndexerStatuses({ client, taskQueue: settings.taskQueue, metrics, logger });
    await startIndexers(client, specs, settings.taskQueue);

    // The read API over the indexer's tables (docs/api.md), as `indexer serve` runs it.
    const api = await startDevApi(options.apiPort ?? apiEnv().port, database.url, config.name, logger);
    cleanups.push(() => api.close());

    const header = [
      '',
      `Temporal     ${settings.temporalAddress}${uiUrl ? `   Web UI ${uiUrl}/namespaces/${settings.namespace}/workflows` : ''}`,
      `PostgreSQL   ${database.embedded ? database.url : redactUrl(database.url)}   (schema "${config.name}")`,
      ...anvils.map((a) => `anvil        ${a.url}   (chain ${a.chainId})`),
      ...(natsUrl && specs[0]?.stream
        ? [
            `stream       ${specs[0].stream.stream} on ${parseNatsUrl(natsUrl, 'NATS_URL').label}   (${natsUrl === DEFAULT_NATS_URL || envNatsUrl() ? '' : `NATS_URL=${parseNatsUrl(natsUrl, 'NATS_URL').label} `}indexer tail ${config.name})`,
          ]
        : []),
      `metrics      ${ops.url}/metrics   (health: /health/live, /health/ready)`,
      `GraphQL      ${api.graphqlUrl(config.name)}   (open it in a browser for the IDE)`,
      `  e.g.       ${exampleQuery(api.graphqlUrl(config.name), !configPath)}`,
      `worker log   ${path.relative(process.cwd(), logFile)}`,
      'Ctrl-C stops everything; indexer dev again resumes from the checkpoint.',
      '',
    ];
    if (!process.stdout.isTTY) header.forEach(say);
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    // A closed terminal: the helpers run in process groups of their own and would outlive us,
    // holding the ports the next `indexer dev` needs.
    process.once('SIGHUP', () => abort.abort());
    workerDone.catch((error) => {
      say(`worker failed: ${oneLine(error)}`);
      abort.abort();
    });
    await watchStatus(client, config.name, { intervalMs: process.stdout.isTTY ? 1000 : 5000, header, signal: abort.signal });
    say('stopping …');
  } finally {
    await shutdown();
  }
}
