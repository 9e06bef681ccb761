import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { labelsOf, metricsOnce, type MetricSpec } from '../runtime';

/** The handlers stage's metrics, registered once per registry. */
export const handlersMetrics = metricsOnce((registry: Registry) => {
  const labelNames = ['indexer', 'chain_id'];
  const registers = [registry];
  const events = new Counter({ name: 'indexer_handler_events_total', help: 'Stored events that went through the handlers stage', labelNames, registers });
  const duration = new Histogram({
    name: 'indexer_handler_activity_duration_seconds',
    help: 'Wall time of one handleEvents activity (several batches)',
    labelNames,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const checkpoint = new Gauge({ name: 'indexer_handlers_checkpoint_block', help: 'Last block whose events the handlers have all handled', labelNames, registers });
  return {
    /** One handleEvents activity's summary. */
    handled: (spec: MetricSpec, r: { events: number; durationMs: number; checkpoint: number }) => {
      events.inc(labelsOf(spec), r.events);
      duration.observe(labelsOf(spec), r.durationMs / 1000);
      checkpoint.set(labelsOf(spec), r.checkpoint);
    },
  };
});
