import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode, type InjectedSinks } from '@temporalio/worker';
import { quietBundlerLogger, workflowBundleOptions } from '../../src/worker/workflow-bundle';
import { WORKFLOWS_PATH } from '../../src/worker';
import type { ScheduledSinks } from '../helpers/scheduled-recorder';

/**
 * Histories recorded by an earlier version of the workflows (test/replay/record.ts: backfill,
 * ranges growing, realtime, pause/resume, a reorg, verify, reset, stop, a run from carried state)
 * must replay on today's code: without a nondeterminism error, and scheduling every activity with
 * the same numbers (blocks, checkpoints, range sizes) as recorded. Running workflows survive a
 * deploy of this code.
 */
const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'replay', 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const require = createRequire(import.meta.url);

// The replay worker logs every state change at INFO; only problems matter here.
Runtime.install({ logger: new DefaultLogger('WARN') });

interface RecordedEvent {
  activityTaskScheduledEventAttributes?: { activityType: { name: string }; input?: { payloads?: Array<{ data?: string }> } };
}

/** Each scheduled activity of a recorded history: its type and the numbers of its input. */
function recordedActivities(history: { events: RecordedEvent[] }): Array<{ type: string; numbers: Record<string, number> }> {
  return history.events.flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a) return [];
    const data = a.input?.payloads?.[0]?.data;
    return [{ type: a.activityType.name, numbers: numbersOf(data ? JSON.parse(Buffer.from(data, 'base64').toString('utf8')) : undefined) }];
  });
}

/** The top-level number fields of an activity input: the blocks and sizes a result is paired with. */
function numbersOf(input: unknown): Record<string, number> {
  if (!input || typeof input !== 'object') return {};
  return Object.fromEntries(Object.entries(input).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
}

test('recorded workflow histories replay on the current workflow code, scheduling every activity with the recorded blocks', { timeout: 180_000 }, async () => {
  assert.ok(files.length >= 4, 'the recorded histories are there');
  const bundle = await bundleWorkflowCode({
    ...workflowBundleOptions(WORKFLOWS_PATH),
    workflowInterceptorModules: [...workflowBundleOptions(WORKFLOWS_PATH).workflowInterceptorModules!, require.resolve('../helpers/scheduled-recorder.ts')],
    logger: quietBundlerLogger,
  });
  for (const file of files) {
    const history = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as { events: RecordedEvent[] };
    const replayed: Array<{ type: string; numbers: Record<string, number> }> = [];
    const sinks: InjectedSinks<ScheduledSinks> = {
      scheduled: { activity: { fn: (_info, type, input) => void replayed.push({ type, numbers: numbersOf(input) }), callDuringReplay: true } },
    };
    await assert.doesNotReject(Worker.runReplayHistory({ workflowBundle: bundle, sinks: { ...sinks, exporter: { export: { fn: () => undefined } } } as never }, history), `${file} replays`);
    const recorded = recordedActivities(history);
    assert.ok(replayed.length >= recorded.length, `${file}: ${replayed.length} activities scheduled on replay, ${recorded.length} recorded`);
    recorded.forEach((r, i) => {
      const again = replayed[i]!;
      assert.equal(again.type, r.type, `${file}: activity ${i + 1}`);
      // Numbers recorded are scheduled again the same (inputs may have gained fields since).
      for (const [key, value] of Object.entries(r.numbers)) assert.equal(again.numbers[key], value, `${file}: activity ${i + 1} (${r.type}) ${key}`);
    });
  }
});
