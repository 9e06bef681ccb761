import { handlersStage } from './handlers/workflow';
import type { StageDefinition, StageState } from './stage';
import { streamStage } from './stream/workflow';

/**
 * Every downstream stage, in the order the indexer workflow starts them (recorded histories depend
 * on it): the one list that registers a stage's workflow side (its worker side: ./runtimes.ts).
 * Nothing outside a stage's folder names it but these two lists.
 */
export const STAGES = [handlersStage, streamStage] as const;

type Registered = (typeof STAGES)[number];
type StateOf<D> = D extends StageDefinition<infer S, infer _P, infer _N> ? S : never;
type PreparedOf<D> = D extends StageDefinition<infer _S, infer P, infer _N> ? P : never;
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** `status.<stage>` for every registered stage: null when the config has none. */
export type StageStatuses = { [D in Registered as D['name']]: ReturnType<StateOf<D>['status']> | null };
/** What continueAsNew carries of each configured stage. */
export type StagesCarried = { [D in Registered as D['name']]?: ReturnType<StateOf<D>['carried']> };
/** What prepareIndexer reports of every stage (each its own fields). */
export type StagesPrepared = Intersection<PreparedOf<Registered>>;

/** A configured stage in a run: its definition and its state. */
export interface RunningStage {
  definition: StageDefinition<StageState, object>;
  state: StageState;
}
