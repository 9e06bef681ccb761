import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The read API's Prometheus metrics, on its own port's `/metrics` (docs/api.md, "Metrics";
 * deploy/prometheus scrapes every replica, deploy/grafana/dashboards/api.json shows them). Labels:
 * the indexer, the transport (http, sse, ws) and, for outcomes, what went wrong; never a query's text.
 */
export type Transport = 'http' | 'sse' | 'ws';

/** How a request ended: ok, or the kind of error its response carried. */
export type Outcome = 'ok' | 'invalid' | 'limit' | 'timeout' | 'unavailable' | 'error';

export class ApiMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'indexer_api_requests_total',
    help: 'GraphQL operations served (queries, and subscriptions when they start), by outcome',
    labelNames: ['indexer', 'transport', 'operation', 'outcome'],
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'indexer_api_request_duration_seconds',
    help: 'Time to answer a GraphQL query, from the request to the response (parse, plan, SQL, serialization)',
    labelNames: ['indexer', 'transport'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'indexer_api_errors_total',
    help: 'GraphQL operations answered with errors, by kind (invalid: parse or validation; limit: page size or depth; timeout: statement timeout; unavailable: PostgreSQL away; error: any other)',
    labelNames: ['indexer', 'transport', 'kind'],
    registers: [this.registry],
  });
  readonly subscriptions = new Gauge({
    name: 'indexer_api_subscriptions',
    help: 'Open subscriptions (WebSocket and server-sent events)',
    labelNames: ['indexer', 'transport'],
    registers: [this.registry],
  });
  readonly notifications = new Counter({
    name: 'indexer_api_notifications_total',
    help: 'Checkpoint notifications received from PostgreSQL (handlers batches and rollbacks)',
    labelNames: ['indexer'],
    registers: [this.registry],
  });
  readonly listenReconnects = new Counter({
    name: 'indexer_api_listen_reconnects_total',
    help: 'Times the LISTEN connection was made again after it was lost',
    registers: [this.registry],
  });
  readonly schemaBuilds = new Counter({
    name: 'indexer_api_schema_builds_total',
    help: 'GraphQL schemas built from the database (at start and after a table changed)',
    labelNames: ['indexer'],
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'indexer_api_ready',
    help: '1 while PostgreSQL answers (as /health/ready)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'indexer_api_' });
  }

  /** One finished GraphQL operation. */
  record(indexer: string, transport: Transport, operation: string, outcome: Outcome, seconds?: number): void {
    this.requests.inc({ indexer, transport, operation, outcome });
    if (outcome !== 'ok') this.errors.inc({ indexer, transport, kind: outcome });
    if (seconds !== undefined) this.duration.observe({ indexer, transport }, seconds);
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
