import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { indexerWorkflowId, type IndexerSpec } from '../spec';
import type { indexerWorkflow } from '../workflows/indexer';
import { requireDatabaseUrl } from '../env';
import { CliError } from '../errors';
import { startTracing } from '../tracing';
import { chainRpcUrls, checkChainId, checkDatabase, loadSpecs } from './config-specs';
import { cliSettings } from './settings';
import { INDEXER_CHAIN_ID, INDEXER_MODE, INDEXER_NAME } from '../search-attributes';
import { connectClient, hasSearchAttributes } from './temporal';
import { envNatsUrl, parseNatsUrl } from '../stages/stream/nats-url';

export interface StartOptions {
  config?: string;
  fromBlock?: number;
}

export interface StartResult {
  spec: IndexerSpec;
  workflowId: string;
  alreadyRunning: boolean;
}

/** Starts one workflow per chain; an indexer already running is left as it is. */
export async function startIndexers(client: Client, specs: IndexerSpec[], taskQueue: string, fromBlock?: number): Promise<StartResult[]> {
  const results: StartResult[] = [];
  const searchAttributes = await hasSearchAttributes(client, client.options.namespace);
  for (const spec of specs) {
    const workflowId = indexerWorkflowId(spec.name, spec.chainId);
    try {
      await client.workflow.start<typeof indexerWorkflow>('indexerWorkflow', {
        taskQueue,
        workflowId,
        args: [{ spec, fromBlock, searchAttributes }],
        ...(searchAttributes
          ? {
              typedSearchAttributes: [
                { key: INDEXER_NAME, value: spec.name },
                { key: INDEXER_CHAIN_ID, value: spec.chainId },
                { key: INDEXER_MODE, value: 'backfill' },
              ],
            }
          : {}),
        memo: { contracts: spec.contracts.map((c) => `${c.name} ${c.addresses.join(',')}`).join('; ') },
      });
      results.push({ spec, workflowId, alreadyRunning: false });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) results.push({ spec, workflowId, alreadyRunning: true });
      else throw error;
    }
  }
  return results;
}

/**
 * `indexer start`: validate offline, check chain ids where an RPC is known and that the database
 * the workers write to answers, then start.
 */
export async function startCommand(options: StartOptions): Promise<void> {
  const settings = cliSettings();
  const databaseUrl = requireDatabaseUrl('start', '');
  const { config, specs } = await loadSpecs(options.config);
  // The workers read NATS_URL too: a malformed one is caught here as well (the config's url is checked with the config).
  const natsUrl = envNatsUrl();
  if (config.stream && natsUrl) parseNatsUrl(natsUrl, 'NATS_URL');
  for (const spec of specs) {
    const urls = chainRpcUrls(config, spec.chainId);
    if (!urls) continue;
    const check = await checkChainId(spec.chainId, urls);
    if (check.ok) continue;
    if (check.fatal) throw new CliError(check.message);
    process.stderr.write(`warning: ${check.message}; the indexer will keep retrying\n`);
  }
  const database = await checkDatabase(databaseUrl);
  if (!database.ok) process.stderr.write(`warning: ${database.message}; the workers will keep retrying\n`);
  // With tracing on, the start is the root of each indexer's trace: the workflow and its activities follow it.
  const tracing = await startTracing({ serviceName: 'indexer-cli' });
  const interceptors = tracing ? [new (await import('@temporalio/interceptors-opentelemetry')).OpenTelemetryWorkflowClientInterceptor()] : [];
  const client = await connectClient(settings, { interceptors });
  try {
    for (const r of await startIndexers(client, specs, settings.taskQueue, options.fromBlock)) {
      process.stdout.write(
        r.alreadyRunning
          ? `${r.workflowId} is already running\n`
          : `started ${r.workflowId} (${r.spec.contracts.map((c) => c.name).join(', ')}) on task queue ${settings.taskQueue}\n`,
      );
    }
  } finally {
    await client.connection.close();
    await tracing?.shutdown();
  }
}
