import { Client, Connection, WorkflowNotFoundError, type WorkflowClientInterceptor, type WorkflowHandle } from '@temporalio/client';
import { INDEXER_MODE, SEARCH_ATTRIBUTES } from '../search-attributes';
import type { IndexerStatus } from '../workflows/messages';
import { CliError } from '../errors';
import type { CliSettings } from './settings';

export async function connectClient(settings: CliSettings, options: { interceptors?: WorkflowClientInterceptor[] } = {}): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: settings.temporalAddress, connectTimeout: '5 seconds' });
    return new Client({ connection, namespace: settings.namespace, interceptors: { workflow: options.interceptors ?? [] } });
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
  /** The run's execution status as visibility has it: RUNNING, COMPLETED, TERMINATED … */
  executionStatus: string;
  startTime: Date;
  closeTime?: Date;
  /** The IndexerMode search attribute: the last mode the run published. */
  mode?: string;
  /** The memo's contracts ("Token 0x…; …"). */
  contracts?: string;
}

/**
 * The newest run of every indexer workflow, optionally only those of one indexer name, from
 * visibility alone (search attributes and memo): no query reaches a workflow, so it is fast
 * whatever the namespace holds. Runs that continued as new are never the newest and are skipped.
 */
export async function findIndexers(client: Client, name?: string): Promise<KnownIndexer[]> {
  const newest = new Map<string, KnownIndexer>();
  // By search attribute where the server has them (what the Web UI filters on too), else by type.
  const bySearchAttribute = await hasSearchAttributes(client, client.options.namespace);
  const which = bySearchAttribute
    ? name
      ? `IndexerName = '${name.replace(/[^a-z0-9_]/g, '')}'`
      : `IndexerName IS NOT NULL`
    : `WorkflowType = 'indexerWorkflow'`;
  const query = `${which} AND ExecutionStatus != 'ContinuedAsNew'`;
  for await (const wf of client.workflow.list({ query, pageSize: 1000 })) {
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
      executionStatus: wf.status.name,
      startTime: wf.startTime,
      closeTime: wf.closeTime,
      mode: wf.typedSearchAttributes.get(INDEXER_MODE),
      contracts: typeof wf.memo?.contracts === 'string' ? wf.memo.contracts : undefined,
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

/**
 * The `status` query, given up after `timeoutMs`: a query waits for a worker to answer, and the
 * server keeps one to a workflow whose workers are gone for about 30 s before it fails.
 */
export async function queryStatus(client: Client, handle: WorkflowHandle, timeoutMs: number): Promise<IndexerStatus> {
  const deadline = Date.now() + timeoutMs;
  try {
    return await client.withDeadline(deadline, () => handle.query<IndexerStatus>('status'));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new CliError(`indexer workflow ${handle.workflowId} not found`);
    // grpc reports our deadline as DEADLINE_EXCEEDED or, for some calls, CANCELLED.
    if (timedOut(error) || Date.now() >= deadline) {
      throw new CliError(`no worker answered the status query to ${handle.workflowId} within ${timeoutMs / 1000} s: is a worker running on its task queue? (indexer worker)`);
    }
    throw new CliError(`status query to ${handle.workflowId} failed: ${innermostMessage(error)} (is a worker running? indexer worker)`);
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

/**
 * The innermost cause's first line: an update's ApplicationFailure inside WorkflowUpdateFailedError,
 * what a query failed on inside "Failed to query Workflow" …
 */
export function innermostMessage(error: unknown): string {
  let e = error as { message?: string; cause?: unknown };
  while (e?.cause) e = e.cause as typeof e;
  return (e?.message ?? String(error)).split('\n')[0]!;
}

/** Whether the error (or one it wraps: the client reports "Failed to query Workflow") is a gRPC deadline. */
function timedOut(error: unknown): boolean {
  for (let e = error as { code?: number; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 4 /* DEADLINE_EXCEEDED */ || /deadline/i.test(e.message ?? '')) return true;
  }
  return false;
}

