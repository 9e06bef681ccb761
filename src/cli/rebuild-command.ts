import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from '../errors';
import { rebuildUpdate } from '../stages/handlers/workflow';
import { cliSettings } from './settings';
import { STATUS_QUERY_TIMEOUT_MS } from './status-command';
import { connectClient, innermostMessage, queryStatus, requireIndexers } from './temporal';

/**
 * `indexer rebuild <name>`: every chain's handlers start over (derived tables emptied, setup run,
 * stored events replayed without the RPC); prints progress until the replay has caught up with
 * the ingest checkpoint, or stops at the first failing handler with its lastError.
 */
export async function rebuildCommand(name: string, options: { intervalMs?: number } = {}): Promise<void> {
  const client = await connectClient(cliSettings());
  try {
    const indexers = await requireIndexers(client, name, true);
    const rebuildId = randomUUID();
    for (const indexer of indexers) {
      const status = await queryStatus(client, client.workflow.getHandle(indexer.workflowId), STATUS_QUERY_TIMEOUT_MS);
      if (!status.handlers) throw new CliError(`rebuild of ${indexer.workflowId} refused: indexer ${status.name} has no handlers configured: nothing to rebuild`);
    }
    for (const indexer of indexers) {
      try {
        const r = await client.workflow.getHandle(indexer.workflowId).executeUpdate(rebuildUpdate, { args: [{ rebuildId }] });
        process.stdout.write(`${indexer.workflowId}: derived tables emptied, setup ran; replaying blocks ${r.fromBlock}-${r.toBlock} through the handlers\n`);
      } catch (error) {
        throw new CliError(`rebuild of ${indexer.workflowId} refused: ${innermostMessage(error)}`);
      }
    }
    const pending = new Set(indexers.map((i) => i.workflowId));
    while (pending.size > 0) {
      for (const workflowId of [...pending]) {
        const status = await queryStatus(client, client.workflow.getHandle(workflowId), STATUS_QUERY_TIMEOUT_MS);
        const handlers = status.handlers!;
        if (handlers.paused) throw new CliError(`rebuild of ${workflowId} stopped: ${handlers.lastError ?? 'the handlers stage is paused'}`);
        const done = !handlers.rebuilding && handlers.checkpoint >= status.checkpoint;
        process.stdout.write(`${workflowId}: handlers at block ${handlers.checkpoint} of ${status.checkpoint}, ${handlers.eventsHandled} events, ${handlers.eventsPerSecond} events/s${done ? ' — caught up' : ''}\n`);
        if (done) pending.delete(workflowId);
      }
      if (pending.size > 0) await sleep(options.intervalMs ?? 1_000);
    }
  } finally {
    await client.connection.close();
  }
}
