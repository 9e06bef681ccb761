import { condition } from '@temporalio/workflow';
import type { IndexerSpec, SpecRef, WithSpecRef } from '../spec';
import { describeFailure, type Backoff } from '../workflows/support/failure';
import { RateWindow } from '../workflows/support/rate-window';

/**
 * The workflow side of a downstream stage (docs/design.md, "Stages"): a stage reads the stored
 * events after its own cursor, never past the ingest checkpoint, and the indexer workflow runs it
 * beside ingest. Every stage is one folder under src/stages/ that implements this contract and its
 * database side (./runtime.ts), and one line in the lists that register them (./index.ts,
 * ./runtimes.ts). Pure, deterministic code: the workflow bundle imports it.
 */

/** What a stage sees of the indexer it runs in. */
export interface IndexerView {
  readonly spec: IndexerSpec;
  /** The ingest checkpoint in the workflow's state (may be ahead of the stored one). */
  readonly checkpoint: number;
  readonly head: number | null;
  readonly safeHead: number | null;
  /** Ingest is paused (by `pause` or a fault): stages hold too, but for work that must go on (a rebuild). */
  readonly paused: boolean;
  readonly mode: string;
}

/** What a stage's loop gets from the indexer workflow: the spec, the indexer's state, and a few of its services. */
export interface StageContext {
  spec: IndexerSpec;
  /** What activities get instead of the spec. */
  ref: SpecRef;
  indexer: IndexerView;
  /** The ingest checkpoint as stored in PostgreSQL: what a stage may read up to (null before the first save). */
  storedCheckpoint: () => number | null;
  /** Asks an endpoint for the chain's head and notes it in the indexer's state (for a stage that needs it while ingest does not ask). */
  probeHead: () => Promise<void>;
}

/**
 * What every stage has in common as the workflow sees it: where it stands, whether a failure
 * stopped it, how a rollback or an activity's summary moves it, and what the status shows and
 * continueAsNew carries. Each stage adds its own counts and decisions.
 */
export abstract class StageState {
  /** The last block whose events the stage has all done. */
  checkpoint: number;
  /** Stopped by a failure retrying cannot fix, until `resume`. */
  paused: boolean;
  lastError: string | null;
  /** The loop is asked to end (stop, continueAsNew, done) once the activity in flight is back. */
  stopping = false;
  /** Bumped by every rollback, so a summary from before one cannot move the checkpoint above the ancestor. */
  epoch = 0;
  /** The bound the last activity was given when it found nothing more: don't ask again until it moves. */
  protected exhaustedAt: number | null = null;
  protected readonly rates = new RateWindow<'events'>();

  constructor(carried: { checkpoint: number; paused: boolean; lastError: string | null }) {
    this.checkpoint = carried.checkpoint;
    this.paused = carried.paused;
    this.lastError = carried.lastError;
  }

  /** Done with everything it may do for the indexer as it stands ("done" waits for every stage). */
  abstract caughtUp(indexer: IndexerView): boolean;
  /**
   * Done with everything up to the stored checkpoint, and would go on with more: it waits for the
   * next save, which is then worth making sooner.
   */
  abstract waitsFor(storedCheckpoint: number, indexer: IndexerView): boolean;
  /** The stage's object in the `status` query (docs/operations.md, "Status"). */
  abstract status(indexer: IndexerView, now: number): object;
  /** What the next run is handed by continueAsNew. */
  abstract carried(): object;

  /** `indexer resume`: a stage a fault had paused goes on. */
  resume(): void {
    this.paused = false;
  }

  /** What every activity summary changes: the rate, the checkpoint, and whether the bound is exhausted. */
  protected advance(result: { checkpoint: number; caughtUp: boolean }, events: number, epoch: number, upTo: number, now: number): void {
    this.rates.record(now, { events });
    this.checkpoint = epoch === this.epoch ? result.checkpoint : Math.min(result.checkpoint, this.checkpoint);
    this.exhaustedAt = result.caughtUp && result.checkpoint < upTo ? upTo : null;
  }

  /** The stage could not run (its activity's retries spent): shown, and paused when retrying cannot help. */
  recordFailure(message: string, fatal: boolean): void {
    this.lastError = message;
    if (fatal) this.paused = true;
  }

  /**
   * A repair (verification) changed stored events the stage had gone past: `summary` is what the
   * stage's own `repair` did in the repair's transaction (stages/runtime.ts).
   */
  abstract repaired(summary: object): void;

  /** A rollback moved the stage's cursor down to `ancestor` in the database (in the rollback's transaction). */
  rewound(ancestor: number): void {
    this.epoch += 1;
    this.checkpoint = Math.min(this.checkpoint, ancestor);
    this.exhaustedAt = null;
  }
}

/**
 * One stage, as the indexer workflow runs it. `Prepared` is what prepareIndexer reports of it (its
 * stored cursor): fields of that activity's result, named by the stage (histories recorded them).
 */
export interface StageDefinition<S extends StageState = StageState, Prepared = object, Name extends string = string> {
  /** The stage's key in `status`, in what continueAsNew carries, and its row in `_stages`. */
  readonly name: Name;
  /** Whether the spec configures the stage. */
  configured(spec: IndexerSpec): boolean;
  /** Its state for a run: what the last run carried, else from before the indexer's start block. */
  create(spec: IndexerSpec, beforeStart: number, carried: unknown): S;
  /** A new run (not continued): where prepareIndexer found the stage's stored cursor. */
  prepared(state: S, result: Prepared): void;
  /** Its own signals, queries and updates, set when the workflow starts (before it awaits anything). */
  messages?(ctx: StageContext, state: S): void;
  /** Its loop beside ingest; ends once `state.stopping` is set and its activity in flight is back. */
  run(ctx: StageContext, state: S): Promise<void>;
  /** How `indexer status` and `indexer dev` show its status object. */
  render: StageRender<ReturnType<S['status']>>;
}

/** A stage's status object for a person: lines of the live view, and `key=value` fields of the one-line status. */
export interface StageRender<Status> {
  lines(status: Status): string[];
  fields(status: Status): string[];
}

/**
 * One activity of a stage: its summary applied on success; on failure (its retries spent) shown in
 * the stage's lastError, pausing the stage when retrying cannot help, else tried again after the
 * stage's backoff (cut short by a stop).
 */
export async function stageStep<R>(stage: StageState, backoff: Backoff, work: () => Promise<R>, apply: (result: R) => void): Promise<void> {
  try {
    apply(await work());
    backoff.reset();
  } catch (error) {
    const failure = describeFailure(error);
    stage.recordFailure(failure.message, failure.fatal);
    if (!failure.fatal) await condition(() => stage.stopping, backoff.next());
  }
}

/** A stage's activity bodies (`(env, input) => result`) as the workflow schedules them: `(input) => result`, the spec by reference. */
export type ScheduledActivities<Bodies> = {
  [K in keyof Bodies]: Bodies[K] extends (env: never, input: infer I) => Promise<infer O> ? (input: WithSpecRef<I>) => Promise<O> : never;
};
