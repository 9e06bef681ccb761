import http from 'node:http';
import type { IndexerMetrics } from './metrics';

export interface OpsServerOptions {
  port: number;
  host?: string;
  metrics: IndexerMetrics;
  /** The Temporal SDK's own Prometheus endpoint (worker metrics), appended to ours. */
  sdkMetricsUrl?: string;
  /** Ready = connected to Temporal and PostgreSQL. */
  ready: () => Promise<{ ready: boolean; reason?: string }>;
}

/** `/metrics`, `/health/live` and `/health/ready` for Prometheus and orchestrators. */
export async function startOpsServer(options: OpsServerOptions): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        if (req.url === '/metrics') {
          let text = await options.metrics.metrics();
          if (options.sdkMetricsUrl) {
            const sdk = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(2_000) }).then((r) => (r.ok ? r.text() : ''), () => '');
            text += `\n# Temporal SDK worker metrics\n${sdk}`;
          }
          res.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text);
        } else if (req.url === '/health/live') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        } else if (req.url === '/health/ready') {
          const { ready, reason } = await options.ready();
          res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : `not ready: ${reason ?? 'starting'}\n`);
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics, /health/live, /health/ready\n');
        }
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`error: ${(error as Error).message}\n`);
      }
    })();
  });
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${options.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
