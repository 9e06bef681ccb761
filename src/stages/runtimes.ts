import { handlersRuntime } from './handlers/runtime';
import type { StageRuntime } from './runtime';
import { streamRuntime } from './stream/runtime';

/**
 * Every downstream stage's worker side (activities, prepare, rewind, metrics), in the workflow
 * side's order (./index.ts): the one list that registers it on the worker.
 */
export const STAGE_RUNTIMES = [handlersRuntime, streamRuntime] as const;

type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

type EnvOf<R> = R extends { prepare(client: never, input: { env: infer E }): unknown } ? E : never;
/** What the stages need of the worker: activities/env.ts must give all of it. */
export type StageEnv = Intersection<EnvOf<(typeof STAGE_RUNTIMES)[number]>>;

/** Every stage's activity bodies, by name. */
export type StageActivityBodies = Intersection<(typeof STAGE_RUNTIMES)[number]['activities']>;

/** The registered stages as the worker iterates them (prepare, rewind, metrics). */
export const stageRuntimes: ReadonlyArray<StageRuntime<StageEnv>> = STAGE_RUNTIMES;

/** The activity bodies of every registered stage, by name. */
export function stageActivityBodies(): StageActivityBodies {
  return Object.assign({}, ...STAGE_RUNTIMES.map((r) => r.activities)) as StageActivityBodies;
}
