import type { Client } from '@temporalio/client';
import { startIndexers } from '../../src/cli/start-command';
import { parseConfig } from '../../src/config/load';
import { buildSpecs } from '../../src/config/resolve';
import { indexerWorkflowId, type IndexerSpec } from '../../src/spec';
import type { IndexerStatus } from '../../src/workflows/messages';
import { eventually } from './workers';

/** Specs from a config object, through the same validation `indexer start` uses. */
export function specsFrom(config: unknown): IndexerSpec[] {
  return buildSpecs(parseConfig(config, process.cwd()), () => undefined);
}

/** Starts the indexer workflow the way `indexer start` does (search attributes, memo and all). */
export async function startIndexer(client: Client, spec: IndexerSpec, taskQueue: string, fromBlock?: number) {
  await startIndexers(client, [spec], taskQueue, fromBlock);
  return client.workflow.getHandle(indexerWorkflowId(spec.name, spec.chainId));
}

export async function status(client: Client, spec: IndexerSpec): Promise<IndexerStatus> {
  return client.workflow.getHandle(indexerWorkflowId(spec.name, spec.chainId)).query<IndexerStatus>('status');
}

/** Polls the status query until `ready` holds, then returns that status; fails after timeoutMs with `what`. */
export async function waitForStatus(
  client: Client,
  spec: IndexerSpec,
  what: string,
  ready: (s: IndexerStatus) => unknown,
  timeoutMs?: number,
  everyMs?: number,
): Promise<IndexerStatus> {
  return eventually(
    what,
    async () => {
      const s = await status(client, spec);
      return ready(s) ? s : undefined;
    },
    timeoutMs,
    everyMs,
  );
}

/** Waits until the checkpoint reaches `block`. */
export async function waitForCheckpoint(client: Client, spec: IndexerSpec, block: bigint | number, timeoutMs = 120_000): Promise<IndexerStatus> {
  return waitForStatus(client, spec, `checkpoint ≥ ${block} on ${spec.name}`, (s) => s.checkpoint >= Number(block), timeoutMs);
}
