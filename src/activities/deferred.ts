import type { IndexerActivities } from './index';

/**
 * Every activity's name, known without loading any activity code: Worker.create needs the names
 * when it starts, the implementations only when the first task arrives (deferredActivities).
 */
export const ACTIVITY_NAMES = [
  'prepareIndexer',
  'getHead',
  'indexRange',
  'syncTip',
  'findCommonAncestor',
  'rollbackTo',
  'verifyRange',
  'recordVerification',
  'saveCheckpoint',
  'handleEvents',
  'discoverChildren',
  'createReadIndexes',
  'rebuildHandlers',
  'publishEvents',
] as const satisfies ReadonlyArray<keyof IndexerActivities>;

// A compile error here means an activity was added to createActivities but not to ACTIVITY_NAMES.
const everyActivityNamed: Exclude<keyof IndexerActivities, (typeof ACTIVITY_NAMES)[number]> extends never ? true : never = true;
void everyActivityNamed;

/** The activities as Worker.create takes them, each calling its implementation once `ready` resolves. */
export function deferredActivities(ready: Promise<IndexerActivities>): IndexerActivities {
  // A failure to load reaches each call, and whoever awaits `ready` itself; it is not unhandled meanwhile.
  ready.catch(() => undefined);
  const entries = ACTIVITY_NAMES.map((name) => [name, async (input: never) => ((await ready)[name] as (input: never) => unknown)(input)]);
  return Object.fromEntries(entries) as unknown as IndexerActivities;
}
