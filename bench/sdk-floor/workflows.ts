// The SDK floor's only workflow (bench/startup.ts): one activity, so the first activity marks the
// same point as an indexer's prepareIndexer.
import { proxyActivities } from '@temporalio/workflow';

const { ping } = proxyActivities<{ ping: () => Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function floorWorkflow(): Promise<void> {
  await ping();
}
