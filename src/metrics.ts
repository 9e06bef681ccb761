import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EndpointHealth } from './rpc/endpoint';

/**
 * The worker's Prometheus metrics. Activities record what they did; RPC endpoint health is read
 * from the live ChainRpc objects at scrape time. Labels are the indexer name and chain id, and for
 * RPC the endpoint's redacted label: never a URL with its key.
 */
export class IndexerMetrics {
  readonly registry = new Registry();
  private readonly endpointSources: Array<() => Array<{ chainId: number; endpoints: EndpointHealth[] }>> = [];

  readonly logsIndexed = new Counter({ name: 'indexer_logs_indexed_total', help: 'Event rows written by indexRange and syncTip', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly ranges = new Counter({ name: 'indexer_ranges_total', help: 'Block ranges indexed (backfill and realtime)', labelNames: ['indexer', 'chain_id', 'mode'], registers: [this.registry] });
  readonly rangeDuration = new Histogram({
    name: 'indexer_range_duration_seconds',
    help: 'Wall time of one indexRange/syncTip activity',
    labelNames: ['indexer', 'chain_id', 'mode'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly rowsPerRange = new Histogram({
    name: 'indexer_rows_per_range',
    help: 'Rows written per range',
    labelNames: ['indexer', 'chain_id'],
    buckets: [0, 1, 10, 100, 1000, 5000, 10000, 50000, 100000],
    registers: [this.registry],
  });
  readonly rangeSplits = new Counter({ name: 'indexer_range_splits_total', help: 'Ranges split because the RPC refused them', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly checkpoint = new Gauge({ name: 'indexer_checkpoint_block', help: 'Last block whose logs are all stored', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly head = new Gauge({ name: 'indexer_head_block', help: 'Chain head as last seen', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly lag = new Gauge({ name: 'indexer_lag_blocks', help: 'Head minus checkpoint', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly reorgs = new Counter({ name: 'indexer_reorgs_total', help: 'Rollbacks done (reorgs and resets)', labelNames: ['indexer', 'chain_id', 'reason'], registers: [this.registry] });
  readonly handlerEvents = new Counter({ name: 'indexer_handler_events_total', help: 'Stored events that went through the handlers stage', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly handlerDuration = new Histogram({
    name: 'indexer_handler_activity_duration_seconds',
    help: 'Wall time of one handleEvents activity (several batches)',
    labelNames: ['indexer', 'chain_id'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly handlersCheckpoint = new Gauge({ name: 'indexer_handlers_checkpoint_block', help: 'Last block whose events the handlers have all handled', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly streamPublished = new Counter({ name: 'indexer_stream_published_total', help: 'Events published to NATS JetStream and acknowledged', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly streamRetracted = new Counter({ name: 'indexer_stream_retracted_total', help: 'Retractions (removed: true) published after reorgs and resets', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly streamCheckpoint = new Gauge({ name: 'indexer_stream_checkpoint_block', help: 'Last block whose events are all published to the stream', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly streamActivityDuration = new Histogram({
    name: 'indexer_stream_activity_duration_seconds',
    help: 'Wall time of one publishEvents activity (several batches)',
    labelNames: ['indexer', 'chain_id'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly verificationMismatches = new Counter({ name: 'indexer_verification_mismatches_total', help: 'Chunks whose stored data differed from the chain', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'indexer_worker_' });
    const read = () => this.endpointSources.flatMap((source) => source());
    const perEndpoint = (name: string, help: string, value: (e: EndpointHealth) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['chain_id', 'endpoint'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const { chainId, endpoints } of read()) for (const e of endpoints) this.set({ chain_id: String(chainId), endpoint: e.label }, value(e));
        },
      });
    perEndpoint('indexer_rpc_requests', 'RPC requests sent to the endpoint by this worker', (e) => e.requests);
    perEndpoint('indexer_rpc_errors', 'RPC requests to the endpoint that failed', (e) => e.failures);
    perEndpoint('indexer_rpc_latency_ms', 'Smoothed latency of successful RPC requests', (e) => e.latencyMs);
    perEndpoint('indexer_rpc_rate_limit_waits', 'Requests that waited for the endpoint rate limit', (e) => e.rateLimitWaits);
    perEndpoint('indexer_rpc_breaker_state', 'Circuit breaker: 0 closed, 1 half-open, 2 open', (e) => ({ closed: 0, 'half-open': 1, open: 2 })[e.state]);
  }

  /** Registers where endpoint health is read from at scrape time. */
  watchEndpoints(source: () => Array<{ chainId: number; endpoints: EndpointHealth[] }>): void {
    this.endpointSources.push(source);
  }
}
