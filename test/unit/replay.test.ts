import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundle } from '../helpers/stack';

/**
 * Histories recorded by an earlier version of the workflows (test/replay/record.ts: backfill,
 * realtime, pause/resume, a reorg, verify, reset, stop, a run from carried state) must replay on
 * today's code without a nondeterminism error: running workflows survive a deploy of this code.
 */
const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'replay', 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

// The replay worker logs every state change at INFO; only problems matter here.
Runtime.install({ logger: new DefaultLogger('WARN') });

test('recorded workflow histories replay on the current workflow code', { timeout: 120_000 }, async () => {
  assert.ok(files.length >= 4, 'the recorded histories are there');
  const bundle = await workflowBundle();
  for (const file of files) {
    const history = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as { events: unknown[] };
    await assert.doesNotReject(Worker.runReplayHistory({ workflowBundle: bundle }, history), `${file} replays`);
  }
});
