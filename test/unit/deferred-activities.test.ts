import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IndexerActivities } from '../../src/activities';
import { ACTIVITY_NAMES, deferredActivities } from '../../src/activities/deferred';

test('deferred activities: every name, each calling its implementation once it is ready', async () => {
  const calls: string[] = [];
  let ready!: (a: IndexerActivities) => void;
  const activities = deferredActivities(new Promise((resolve) => (ready = resolve)));
  assert.deepEqual(Object.keys(activities).sort(), [...ACTIVITY_NAMES].sort());
  const implementation = Object.fromEntries(ACTIVITY_NAMES.map((name) => [name, async (input: unknown) => (calls.push(name), { name, input })]));
  const pending = activities.getHead({ spec: 'ref' } as never);
  ready(implementation as unknown as IndexerActivities);
  assert.deepEqual(await pending, { name: 'getHead', input: { spec: 'ref' } });
  assert.deepEqual(calls, ['getHead']);
});

test('deferred activities: a host that failed to load fails each call with its error, and is not an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const activities = deferredActivities(Promise.reject(new Error('no activity host')));
    await new Promise((r) => setTimeout(r, 10));
    await assert.rejects(activities.indexRange({} as never), /no activity host/);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
