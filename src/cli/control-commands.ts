import { resetUpdate, verifyUpdate } from '../workflows/messages';
import { CliError } from '../errors';
import { cliSettings } from './settings';
import { connectClient, innermostMessage, requireIndexers } from './temporal';

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
        `${indexer.workflowId}: blocks ${result.fromBlock}-${result.toBlock}, ${result.chunks} chunks checked, ${result.mismatches} mismatches, ${result.repaired} repaired (events ${result.added} added, ${result.removed} removed, ${result.changed} changed), ${result.skipped} skipped, ${(result.durationMs / 1000).toFixed(1)}s: ${verdict}\n`,
      );
      for (const problem of result.problems) process.stdout.write(`  ${problem}\n`);
    }
  } finally {
    await client.connection.close();
  }
  if (unrepaired > 0) throw new CliError(`verification found ${unrepaired} chunk(s) it could not repair`, 2);
}
