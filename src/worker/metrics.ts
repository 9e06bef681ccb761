import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RpcCheckStats } from '../rpc/client';
import type { EndpointHealth } from '../rpc/endpoint';

/** What the worker's ChainRpc objects tell at scrape time, per chain. */
export interface EndpointSource {
  chainId: number;
  endpoints: EndpointHealth[];
  checks?: RpcCheckStats;
}

/**
 * The worker's Prometheus metrics (each downstream stage registers its own in `registry` too:
 * stages/<name>/metrics.ts). Activities record what they did; RPC endpoint health is read
 * from the live ChainRpc objects at scrape time. Labels are the indexer name and chain id, and for
 * RPC the endpoint's redacted label: never a URL with its key.
 */
export class IndexerMetrics {
  readonly registry = new Registry();
  private readonly endpointSources: Array<() => EndpointSource[]> = [];

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
  readonly repairs = new Counter({
    name: 'indexer_repairs_total',
    help: 'Events a verification repair put right: added (an endpoint had omitted them), removed (stored, not on the chain) or changed',
    labelNames: ['indexer', 'chain_id', 'kind'],
    registers: [this.registry],
  });
  readonly verificationMismatches = new Counter({ name: 'indexer_verification_mismatches_total', help: 'Chunks whose stored data differed from the chain', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });

  // From the `status` query of the running indexer workflows this worker's task queue serves
  // (status-metrics.ts): every worker on the queue exports the same series, so alerts and
  // dashboards aggregate them with max by (indexer, chain_id).
  readonly paused = new Gauge({ name: 'indexer_paused', help: '1 when the indexer is paused (signal, or an error retries cannot fix)', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly lastError = new Gauge({ name: 'indexer_last_error', help: '1 while the indexer status has a lastError', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly mode = new Gauge({ name: 'indexer_mode', help: '1 for the mode the indexer is in', labelNames: ['indexer', 'chain_id', 'mode'], registers: [this.registry] });
  readonly statusCheckpoint = new Gauge({ name: 'indexer_status_checkpoint_block', help: 'Checkpoint as the workflow reports it', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly statusLag = new Gauge({ name: 'indexer_status_lag_blocks', help: 'Safe head minus checkpoint as the workflow reports it (backfill and realtime)', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly verificationUnrepaired = new Gauge({ name: 'indexer_verification_unrepaired', help: 'Chunks the last verification found wrong and could not repair', labelNames: ['indexer', 'chain_id'], registers: [this.registry] });
  readonly statusPolls = new Counter({ name: 'indexer_status_polls_total', help: 'Status polls of the running indexers, by outcome', labelNames: ['outcome'], registers: [this.registry] });
  private readiness?: () => Promise<{ ready: boolean }>;
  readonly ready = new Gauge({
    name: 'indexer_worker_ready',
    help: '1 when the worker is connected to Temporal and PostgreSQL (as /health/ready)',
    registers: [this.registry],
    collect: async () => {
      if (this.readiness) this.ready.set((await this.readiness().catch(() => ({ ready: false }))).ready ? 1 : 0);
    },
  });

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
    perEndpoint('indexer_rpc_head_block', 'The endpoint\'s own head as last seen (-1 before it answered)', (e) => e.head ?? -1);
    perEndpoint('indexer_rpc_lag_blocks', 'Blocks the endpoint is behind the highest head among the chain\'s endpoints', (e) => e.lag ?? 0);
    perEndpoint('indexer_rpc_out_of_rotation', '1 while the endpoint gets no requests because it answered for another chain', (e) => (e.outOfRotation ? 1 : 0));
    perEndpoint('indexer_rpc_demoted', '1 while the endpoint ranks last after an omission', (e) => (e.demoted ? 1 : 0));
    // Counters kept by the RPC layer, exposed with their real type: they only grow over a worker's life.
    const counter = (name: string, help: string, labelNames: string[], values: (source: EndpointSource) => Array<[Record<string, string>, number]>) =>
      new Counter({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const source of read()) for (const [labels, value] of values(source)) this.inc({ chain_id: String(source.chainId), ...labels }, value);
        },
      });
    counter('indexer_rpc_omissions_total', 'Times the endpoint was caught returning fewer logs than exist (by a second endpoint or a block\'s logsBloom)', ['chain_id', 'endpoint'], (s) =>
      s.endpoints.map((e) => [{ endpoint: e.label }, e.omissions]),
    );
    counter('indexer_rpc_behind_answers_total', 'Answers thrown away because the endpoint did not have the blocks asked about yet', ['chain_id', 'endpoint'], (s) =>
      s.endpoints.map((e) => [{ endpoint: e.label }, e.behind]),
    );
    counter('indexer_rpc_cross_checks_total', 'eth_getLogs ranges compared with a second endpoint (result=compared), or wanted but without one (result=skipped)', ['chain_id', 'result'], (s) =>
      s.checks ? [[{ result: 'compared' }, s.checks.crossChecked], [{ result: 'skipped' }, s.checks.crossCheckSkipped]] : [],
    );
    counter('indexer_rpc_bloom_rechecks_total', 'eth_getLogs sent again (one span of blocks each) because a block\'s logsBloom admitted a configured address and topic0 the answer held no log of', ['chain_id'], (s) =>
      s.checks ? [[{}, s.checks.bloomRechecks]] : [],
    );
    counter('indexer_rpc_bloom_false_positives_total', 'Blocks whose logsBloom admitted a configured address and topic0 that, asked again or of two endpoints, held no log of it', ['chain_id'], (s) =>
      s.checks ? [[{}, s.checks.bloomFalsePositives]] : [],
    );
  }

  private readonly scrapeHooks: Array<() => Promise<void>> = [];

  /** Registers work to do before each scrape (reading the indexers' status). */
  beforeScrape(hook: () => Promise<void>): void {
    this.scrapeHooks.push(hook);
  }

  /** The exposition text, after the scrape hooks have run. */
  async metrics(): Promise<string> {
    await Promise.all(this.scrapeHooks.map((hook) => hook().catch(() => undefined)));
    return this.registry.metrics();
  }

  /** Registers the readiness check the indexer_worker_ready gauge reads at scrape time. */
  watchReadiness(check: () => Promise<{ ready: boolean }>): void {
    this.readiness = check;
    this.ready.set(0);
  }

  /** Registers where endpoint health is read from at scrape time. */
  watchEndpoints(source: () => EndpointSource[]): void {
    this.endpointSources.push(source);
  }
}
