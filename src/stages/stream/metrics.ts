import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { labelsOf, metricsOnce, type MetricSpec } from '../runtime';

/** The stream stage's metrics, registered once per registry. */
export const streamMetrics = metricsOnce((registry: Registry) => {
  const labelNames = ['indexer', 'chain_id'];
  const registers = [registry];
  const published = new Counter({ name: 'indexer_stream_published_total', help: 'Events published to NATS JetStream and acknowledged', labelNames, registers });
  const retracted = new Counter({ name: 'indexer_stream_retracted_total', help: 'Retractions (removed: true) published after reorgs and resets', labelNames, registers });
  const checkpoint = new Gauge({ name: 'indexer_stream_checkpoint_block', help: 'Last block whose events are all published to the stream', labelNames, registers });
  const duration = new Histogram({
    name: 'indexer_stream_activity_duration_seconds',
    help: 'Wall time of one publishEvents activity (several batches)',
    labelNames,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  return {
    /** One publishing batch's summary. */
    streamed: (spec: MetricSpec, r: { published: number; retracted: number; checkpoint: number }) => {
      published.inc(labelsOf(spec), r.published);
      retracted.inc(labelsOf(spec), r.retracted);
      checkpoint.set(labelsOf(spec), r.checkpoint);
    },
    /** One publishEvents activity's wall time. */
    activity: (spec: MetricSpec, durationMs: number) => duration.observe(labelsOf(spec), durationMs / 1000),
  };
});
