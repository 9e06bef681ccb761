import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../search-attributes';
import type { IndexerStatus } from '../workflows/messages';
import { CliError } from '../errors';
import type { CliSettings } from './settings';

export async function connectClient(settings: CliSettings): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: settings.temporalAddress, connectTimeout: '5 seconds' });
    return new Client({ connection, namespace: settings.namespace });
  } catch {
    throw new CliError(`cannot reach Temporal at ${settings.temporalAddress}: start it (indexer dev, or temporal server start-dev) or set TEMPORAL_ADDRESS`);
  }
}

export interface KnownIndexer {
  workflowId: string;
  runId: string;
  name: string;
  chainId: number;
  running: boolean;
  startTime: Date;
}

/** The newest run of every indexer workflow, optionally only those of one indexer name. */
export async function findIndexers(client: Client, name?: string): Promise<KnownIndexer[]> {
  const newest = new Map<string, KnownIndexer>();
  // By search attribute where the server has them (what the Web UI filters on too), else by type.
  const bySearchAttribute = await hasSearchAttributes(client, client.options.namespace);
  const query = bySearchAttribute
    ? name
      ? `IndexerName = '${name.replace(/[^a-z0-9_]/g, '')}'`
      : `IndexerName IS NOT NULL`
    : `WorkflowType = 'indexerWorkflow'`;
  for await (const wf of client.workflow.list({ query })) {
    const match = /^indexer:([^:]+):(\d+)$/.exec(wf.workflowId);
    if (!match || (name && match[1] !== name)) continue;
    const known = newest.get(wf.workflowId);
    if (known && known.startTime >= wf.startTime) continue;
    newest.set(wf.workflowId, {
      workflowId: wf.workflowId,
      runId: wf.runId,
      name: match[1]!,
      chainId: Number(match[2]),
      running: wf.status.name === 'RUNNING',
      startTime: wf.startTime,
    });
  }
  return [...newest.values()].sort((a, b) => a.workflowId.localeCompare(b.workflowId));
}

export async function requireIndexers(client: Client, name: string, runningOnly: boolean): Promise<KnownIndexer[]> {
  const found = (await findIndexers(client, name)).filter((i) => !runningOnly || i.running);
  if (found.length === 0) {
    throw new CliError(`no ${runningOnly ? 'running ' : ''}indexer named "${name}": see indexer list, or start it with indexer start`);
  }
  return found;
}

export async function queryStatus(handle: WorkflowHandle): Promise<IndexerStatus> {
  try {
    return await handle.query<IndexerStatus>('status');
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new CliError(`indexer workflow ${handle.workflowId} not found`);
    throw new CliError(`status query to ${handle.workflowId} failed: ${(error as Error).message.split('\n')[0]} (is a worker running? indexer worker)`);
  }
}

/** Whether the server has the indexer's search attributes registered (else they cannot be used). */
export async function hasSearchAttributes(client: Client, namespace: string): Promise<boolean> {
  try {
    const response = await client.connection.operatorService.listSearchAttributes({ namespace });
    const custom = response.customAttributes ?? {};
    return SEARCH_ATTRIBUTES.every((a) => a.name in custom);
  } catch {
    return false;
  }
}

/** The message of the innermost cause (an update's ApplicationFailure inside WorkflowUpdateFailedError …). */
export function innermostMessage(error: unknown): string {
  let e = error as { message?: string; cause?: unknown };
  while (e?.cause) e = e.cause as typeof e;
  return (e?.message ?? String(error)).split('\n')[0]!;
}
