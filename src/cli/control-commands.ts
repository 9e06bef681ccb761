import { resetUpdate, verifyUpdate } from '../workflows/messages';
import { progressOf } from './render';
import { CliError, cliSettings } from './settings';
import { connectClient, findIndexers, queryStatus, requireIndexers } from './temporal';

/** `indexer pause|resume|stop <name>`: the signal goes to every running chain of the indexer. */
export async function signalCommand(name: string, signal: 'pause' | 'resume' | 'stop'): Promise<void> {
  const client = await connectClient(cliSettings());
  try {
    for (const indexer of await requireIndexers(client, name, true)) {
      await client.workflow.getHandle(indexer.workflowId).signal(signal);
      process.stdout.write(`${signal} sent to ${indexer.workflowId}\n`);
    }
  } finally {
    await client.connection.close();
  }
}

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

/** `indexer reset <name> --to-block N`: roll every chain of the indexer back to N and continue from N+1. */
export async function resetCommand(name: string, toBlock: number): Promise<void> {
  const client = await connectClient(cliSettings());
  try {
    for (const indexer of await requireIndexers(client, name, true)) {
      try {
        const result = await client.workflow.getHandle(indexer.workflowId).executeUpdate(resetUpdate, { args: [{ toBlock }] });
        process.stdout.write(`${indexer.workflowId}: rolled back to ${result.checkpoint} (${result.rowsDeleted} rows deleted); indexing continues from ${result.checkpoint + 1}\n`);
      } catch (error) {
        throw new CliError(`reset of ${indexer.workflowId} refused: ${innermostMessage(error)}`);
      }
    }
  } finally {
    await client.connection.close();
  }
}

function innermostMessage(error: unknown): string {
  let e = error as { message?: string; cause?: unknown };
  while (e?.cause) e = e.cause as typeof e;
  return (e?.message ?? String(error)).split('\n')[0]!;
}

/**
 * `indexer verify <name> [--from N] [--to M]`: runs a verification on every chain now and prints
 * its result. Exit 0 when the data is right or was repaired, 2 when something could not be repaired.
 */
export async function verifyCommand(name: string, options: { from?: number; to?: number; json?: boolean }): Promise<void> {
  const client = await connectClient(cliSettings());
  let unrepaired = 0;
  try {
    for (const indexer of await requireIndexers(client, name, true)) {
      let result;
      try {
        result = await client.workflow.getHandle(indexer.workflowId).executeUpdate(verifyUpdate, { args: [{ fromBlock: options.from, toBlock: options.to }] });
      } catch (error) {
        throw new CliError(`verification of ${indexer.workflowId} refused: ${innermostMessage(error)}`);
      }
      unrepaired += result.unrepaired;
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ workflowId: indexer.workflowId, ...result })}\n`);
        continue;
      }
      const verdict = result.mismatches === 0 ? 'data equals the chain' : result.unrepaired === 0 ? 'all mismatches repaired' : `${result.unrepaired} chunk(s) could NOT be repaired`;
      process.stdout.write(
        `${indexer.workflowId}: blocks ${result.fromBlock}-${result.toBlock}, ${result.chunks} chunks checked, ${result.mismatches} mismatches, ${result.repaired} repaired, ${result.skipped} skipped, ${(result.durationMs / 1000).toFixed(1)}s: ${verdict}\n`,
      );
      for (const problem of result.problems) process.stdout.write(`  ${problem}\n`);
    }
  } finally {
    await client.connection.close();
  }
  if (unrepaired > 0) throw new CliError(`verification found ${unrepaired} chunk(s) it could not repair`, 2);
}
