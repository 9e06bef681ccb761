import { progressOf } from './render';
import { cliSettings } from './settings';
import { connectClient, findIndexers, queryStatus } from './temporal';

/** How long `indexer list` waits for a running indexer's status before showing it from visibility alone. */
export const LIST_QUERY_TIMEOUT_MS = 1_000;

/**
 * `indexer list`: every indexer Temporal knows, from visibility (search attributes and memo), so
 * it answers fast whatever the namespace holds. Only running workflows are queried for their live
 * status, all at once, each with a short timeout; closed ones are never queried (that needs a
 * worker to replay their history, and waits ~30 s when none is left).
 */
export async function listCommand(options: { json?: boolean }): Promise<void> {
  const client = await connectClient(cliSettings());
  try {
    const indexers = await findIndexers(client);
    const statuses = await Promise.all(
      indexers.map((i) => (i.running ? queryStatus(client, client.workflow.getHandle(i.workflowId), LIST_QUERY_TIMEOUT_MS).catch(() => undefined) : undefined)),
    );
    const rows = indexers.map((indexer, n) => {
      const status = statuses[n];
      const p = status ? progressOf(status) : null;
      return {
        workflowId: indexer.workflowId,
        name: indexer.name,
        chainId: indexer.chainId,
        running: indexer.running,
        executionStatus: indexer.executionStatus,
        // Live from the query when it answered; else the last mode the run published, or how it closed.
        mode: status?.mode ?? (indexer.running ? (indexer.mode ?? 'running') : indexer.executionStatus.toLowerCase()),
        lastMode: indexer.mode ?? null,
        checkpoint: status ? String(status.checkpoint) : '',
        progress: p === null ? '' : `${(p * 100).toFixed(1)}%`,
        lastError: status?.lastError ?? null,
        contracts: indexer.contracts ?? null,
        note: indexer.running && !status ? `no worker answered within ${LIST_QUERY_TIMEOUT_MS / 1000} s` : indexer.running ? '' : `closed ${indexer.closeTime?.toISOString() ?? ''}`.trim(),
      };
    });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return;
    }
    if (rows.length === 0) {
      process.stdout.write('no indexers yet: start one with indexer start\n');
      return;
    }
    const header = ['WORKFLOW ID', 'MODE', 'CHECKPOINT', 'PROGRESS', 'NOTE'];
    const table = [header, ...rows.map((r) => [r.workflowId, r.mode, r.checkpoint, r.progress, r.note])];
    const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    process.stdout.write(table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
  } finally {
    await client.connection.close();
  }
}
