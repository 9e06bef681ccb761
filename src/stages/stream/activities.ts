import type { Registry } from 'prom-client';
import type { Pool } from '../../db/pool';
import { StreamConfigError } from '../../errors';
import type { LogRouter } from '../../indexing/log-router';
import type { Logger } from '../../logger';
import type { IndexerSpec } from '../../spec';
import { publishBatch } from './batch';
import type { NatsLink } from './connection';
import { streamMetrics } from './metrics';
import type { PublishEventsInput, PublishEventsResult } from './types';

/** What the stream stage needs of the worker (activities/env.ts gives it). */
export interface StreamEnv {
  pool: Pool;
  routerFor: (spec: IndexerSpec) => LogRouter;
  /** The spec's NATS connection on this worker: one per indexer × chain, so one stage's broken connection is its own. */
  natsFor: (spec: Pick<IndexerSpec, 'name' | 'chainId'>) => NatsLink;
  log: () => Logger;
  metricsRegistry?: Registry;
}

/** Events per transaction: the cursor moves once per batch, after every ack of it is in. */
const BATCH_EVENTS = 5_000;
/** Publishes awaiting their ack at most: enough to keep the server busy, bounded memory and replay after a crash. */
const PENDING_ACKS = 2_000;
/** One activity publishes batches for about this long: a few history events per stretch, and a status that moves. */
const ACTIVITY_BUDGET_MS = 5_000;

/**
 * The stream stage: owed retractions, then stored events after its cursor up to `toBlock` (never
 * past the stored ingest checkpoint), batch by batch to NATS JetStream, the cursor moving after
 * the acks. NATS unreachable is a transient StreamUnavailableError (retried; `status.stream.lastError`).
 */
export async function publishEvents(env: StreamEnv, { spec, toBlock }: PublishEventsInput): Promise<PublishEventsResult> {
  if (!spec.stream) throw new StreamConfigError(`indexer ${spec.name} has no stream configured`);
  const started = Date.now();
  const log = env.log();
  const target = {
    pool: env.pool,
    spec: { ...spec, stream: spec.stream },
    tables: env.routerFor(spec).tables,
    link: env.natsFor(spec),
    window: PENDING_ACKS,
    warn: (fields: object, message: string) => log.warn(fields, message),
  };
  const metrics = streamMetrics(env.metricsRegistry);
  let published = 0;
  let retracted = 0;
  for (;;) {
    const batch = await publishBatch(target, toBlock, BATCH_EVENTS);
    published += batch.published;
    retracted += batch.retracted;
    metrics.streamed(spec, { published: batch.published, retracted: batch.retracted, checkpoint: batch.checkpoint });
    if (batch.caughtUp || Date.now() - started > ACTIVITY_BUDGET_MS) {
      const durationMs = Date.now() - started;
      metrics.activity(spec, durationMs);
      return { checkpoint: batch.checkpoint, published, retracted, durationMs, caughtUp: batch.caughtUp, retractionsPending: batch.retractionsPending };
    }
  }
}

/** The stage's activities, by the names the workflow schedules them with. */
export function streamActivities() {
  return { publishEvents };
}
