import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { createLogUpdate } from 'log-update';
import type { IndexerStatus } from '../workflows/messages';
import { renderStatus, statusLine } from './render';
import { CliError } from '../errors';
import { cliSettings } from './settings';
import { connectClient, findIndexers, queryStatus } from './temporal';

export async function collectStatuses(client: Client, name?: string): Promise<IndexerStatus[]> {
  const indexers = await findIndexers(client, name);
  if (indexers.length === 0) {
    throw new CliError(name ? `no indexer named "${name}": see indexer list` : 'no indexers yet: start one with indexer start');
  }
  return Promise.all(indexers.map((i) => queryStatus(client.workflow.getHandle(i.workflowId))));
}

export interface StatusOptions {
  json?: boolean;
  watch?: boolean;
  intervalMs?: number;
}

/**
 * Redraws the status in place on a terminal (log-update: it counts wrapped lines, so a long
 * lastError does not break the redraw), or prints a line per indexer per tick elsewhere.
 */
export async function watchStatus(client: Client, name: string | undefined, options: { intervalMs: number; header?: string[]; signal?: AbortSignal }): Promise<void> {
  // A terminal that reports no size (some pseudo-terminals) cannot be redrawn in place: lines there.
  const tty = Boolean(process.stdout.isTTY) && process.stdout.columns > 0 && process.stdout.rows > 0;
  const draw = tty ? createLogUpdate(process.stdout, { showCursor: true }) : undefined;
  try {
    while (!options.signal?.aborted) {
      let lines: string[];
      try {
        const statuses = await collectStatuses(client, name);
        lines = tty ? statuses.flatMap(renderStatus) : statuses.map(statusLine);
      } catch (error) {
        lines = [`status unavailable: ${(error as Error).message.split('\n')[0]}`];
      }
      if (draw) draw([...(options.header ?? []), ...lines].join('\n'));
      else process.stdout.write(`${new Date().toISOString()} ${lines.join('\n')}\n`);
      await sleep(options.intervalMs, undefined, { signal: options.signal }).catch(() => undefined); // an abort ends the wait
    }
  } finally {
    draw?.done(); // leaves the last view on screen; later output goes below it
  }
}

export async function statusCommand(name: string | undefined, options: StatusOptions): Promise<void> {
  const client = await connectClient(cliSettings());
  try {
    if (options.watch) {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      await watchStatus(client, name, { intervalMs: options.intervalMs ?? (process.stdout.isTTY ? 1000 : 5000), signal: abort.signal });
      return;
    }
    const statuses = await collectStatuses(client, name);
    if (options.json) process.stdout.write(`${JSON.stringify(name && statuses.length === 1 ? statuses[0] : statuses, null, 2)}\n`);
    else process.stdout.write(`${statuses.flatMap(renderStatus).join('\n')}\n`);
  } finally {
    await client.connection.close();
  }
}
