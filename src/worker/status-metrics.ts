import type { Client } from '@temporalio/client';
import { oneLine } from '../errors';
import type { Logger } from '../logger';
import type { IndexerMetrics } from './metrics';
import type { IndexerStatus } from '../workflows/messages';

export interface StatusMetricsOptions {
  client: Client;
  /** Only the indexers this worker's task queue serves. */
  taskQueue: string;
  metrics: IndexerMetrics;
  logger: Logger;
  /** A scrape within this long of the last poll reuses it. */
  maxAgeMs?: number;
  queryTimeoutMs?: number;
}

/**
 * Gauges from the workflows' own view: paused, lastError, mode, checkpoint, lag and unrepaired
 * verification chunks live in workflow state, not in any activity. When Prometheus scrapes, the
 * worker lists the running indexer workflows of its task queue (visibility) and queries their
 * `status` in parallel, each with a short timeout; gauges of workflows no longer running
 * disappear. One list call and one query per indexer per scrape per worker, none when nobody
 * scrapes: cheap next to indexing.
 */
export function exportIndexerStatuses(options: StatusMetricsOptions): { refresh: () => Promise<void> } {
  const { client, metrics, logger } = options;
  const maxAgeMs = options.maxAgeMs ?? 5_000;
  const timeoutMs = options.queryTimeoutMs ?? 2_000;
  const query = `WorkflowType = 'indexerWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${options.taskQueue.replace(/'/g, "\\'")}'`;
  const gauges = [metrics.paused, metrics.lastError, metrics.mode, metrics.statusCheckpoint, metrics.statusLag, metrics.verificationUnrepaired];

  function record(status: IndexerStatus): void {
    const labels = { indexer: status.name, chain_id: String(status.chainId) };
    metrics.paused.set(labels, status.paused ? 1 : 0);
    metrics.lastError.set(labels, status.lastError ? 1 : 0);
    metrics.mode.set({ ...labels, mode: status.mode }, 1);
    metrics.statusCheckpoint.set(labels, status.checkpoint);
    if (status.lag !== null) metrics.statusLag.set(labels, status.lag);
    const v = status.lastVerification;
    metrics.verificationUnrepaired.set(labels, v ? Math.max(0, v.mismatches - v.repaired) : 0);
  }

  let running: Promise<void> | undefined;
  let polledAt = 0;
  const refresh = (): Promise<void> =>
    (running ??= (async () => {
      polledAt = Date.now();
      try {
        const ids: string[] = [];
        for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
        const results = await Promise.allSettled(ids.map((id) => client.withDeadline(Date.now() + timeoutMs, () => client.workflow.getHandle(id).query<IndexerStatus>('status'))));
        for (const gauge of gauges) gauge.reset();
        for (const result of results) {
          if (result.status === 'fulfilled') record(result.value);
          metrics.statusPolls.inc({ outcome: result.status === 'fulfilled' ? 'answered' : 'unanswered' });
        }
      } catch (error) {
        metrics.statusPolls.inc({ outcome: 'failed' });
        logger.debug({ err: oneLine(error) }, 'indexer status poll failed');
      } finally {
        running = undefined;
      }
    })());

  metrics.beforeScrape(() => (Date.now() - polledAt < maxAgeMs ? (running ?? Promise.resolve()) : refresh()));
  return { refresh };
}
