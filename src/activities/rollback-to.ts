import { Context } from '@temporalio/activity';
import { rollbackTo as rollbackInDatabase } from '../db/rollback';
import { stageRuntimes } from '../stages/runtimes';
import type { ActivityEnv } from './env';
import type { RollbackInput, RollbackResult } from './types';

/** One transaction: rows, hashes and range records above the ancestor go, the checkpoint moves to it. */
export async function rollbackTo(env: ActivityEnv, input: RollbackInput): Promise<RollbackResult> {
  const { spec } = input;
  const run = Context.current().info.workflowExecution;
  const eventTables = env.routerFor(spec).tables;
  const { rowsDeleted } = await rollbackInDatabase(env.pool, {
    schema: spec.name,
    chainId: spec.chainId,
    tables: eventTables.map((t) => t.table),
    eventTables,
    ancestor: input.ancestor,
    detectedBlock: input.detectedBlock,
    depth: input.depth,
    oldHash: input.oldHash,
    newHash: input.newHash,
    reason: input.reason,
    // The rollback workflow's run: a retried activity records the rollback once.
    key: `${run?.workflowId}:${run?.runId}`,
  }, stageRuntimes.map((stage) => stage.rewind));
  env.log().warn({ ancestor: input.ancestor, depth: input.depth, rowsDeleted, reason: input.reason }, 'rolled back');
  env.metrics.rollback(spec, input.reason);
  env.metrics.checkpoint(spec, input.ancestor);
  return { checkpoint: input.ancestor, rowsDeleted };
}
