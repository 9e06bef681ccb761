import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { IndexerStatus } from '../workflows/messages';
import { renderStatus, statusLine } from './render';
import { CliError } from '../errors';
import { cliSettings } from './settings';
import { connectClient, findIndexers, queryStatus } from './temporal';

/** How long a status query may take before `indexer status` gives up on it (a live worker answers in milliseconds). */
export const STATUS_QUERY_TIMEOUT_MS = 5_000;

/**
 * The status of one indexer (every chain, its newest run, running or not) or, without a name, of
 * every running indexer: closed ones are in `indexer list`, and a query to a closed run needs a
 * worker to replay its history. Queries go out in parallel, each with a timeout.
 */
export async function collectStatuses(client: Client, name?: string): Promise<{ statuses: IndexerStatus[]; unanswered: string[] }> {
  const found = await findIndexers(client, name);
  const indexers = name ? found : found.filter((i) => i.running);
  if (indexers.length === 0) {
    if (name) throw new CliError(`no indexer named "${name}": see indexer list`);
    throw new CliError(found.length > 0 ? 'no indexer is running: see indexer list, or start one with indexer start' : 'no indexers yet: start one with indexer start');
  }
  const results = await Promise.allSettled(indexers.map((i) => queryStatus(client, client.workflow.getHandle(i.workflowId), STATUS_QUERY_TIMEOUT_MS)));
  const statuses: IndexerStatus[] = [];
  const unanswered: string[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') statuses.push(result.value);
    else unanswered.push((result.reason as Error).message);
  }
  // One indexer asked for by name must answer whole; among all of them, the others still show.
  if (unanswered.length > 0 && (name || statuses.length === 0)) throw new CliError(unanswered[0]!);
  return { statuses, unanswered };
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
  const draw = tty ? (await import('log-update')).createLogUpdate(process.stdout, { showCursor: true }) : undefined;
  try {
    while (!options.signal?.aborted) {
      let lines: string[];
      try {
        const { statuses, unanswered } = await collectStatuses(client, name);
        lines = [...(tty ? statuses.flatMap(renderStatus) : statuses.map(statusLine)), ...unanswered];
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
    const { statuses, unanswered } = await collectStatuses(client, name);
    for (const problem of unanswered) process.stderr.write(`warning: ${problem}\n`);
    if (options.json) process.stdout.write(`${JSON.stringify(name && statuses.length === 1 ? statuses[0] : statuses, null, 2)}\n`);
    else process.stdout.write(`${statuses.flatMap(renderStatus).join('\n')}\n`);
  } finally {
    await client.connection.close();
  }
}
