import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { tracingEnv } from './env';

/**
 * OpenTelemetry tracing. The Temporal SDK's interceptors carry one trace from `indexer start`
 * through the workflow (its spans leave the sandbox through a sink) to every activity; inside
 * activities, RPC requests and PostgreSQL queries get spans of their own (`rpcSpan`, `db/traced.ts`).
 * Exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; off otherwise, and then every span
 * is the API's no-op. Attributes never carry a secret: endpoints by redacted label, queries by
 * operation and table, errors by class name only (their messages may quote a URL).
 */

export const TRACER_NAME = 'temporal-evm-indexer';

export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Flushes what is buffered and stops exporting. */
  shutdown: () => Promise<void>;
}

export interface TracingOptions {
  serviceName: string;
  /** An exporter to use instead of OTLP (tests: the SDK's InMemorySpanExporter); tracing is on when given. */
  exporter?: SpanExporter;
}

let installed: Tracing | undefined;

/**
 * Installs the process-wide tracer provider when tracing is on (an exporter is given, or the OTLP
 * endpoint is set); undefined when off. The SDK is imported only then, so commands without
 * tracing do not pay for loading it.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing | undefined> {
  if (installed) return installed;
  const env = tracingEnv();
  if (!options.exporter && !env) return undefined;
  const [{ NodeTracerProvider }, { BatchSpanProcessor, SimpleSpanProcessor }, { Resource: ResourceClass }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
  ]);
  let exporter = options.exporter;
  if (!exporter) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
    // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the full URL; OTEL_EXPORTER_OTLP_ENDPOINT the base (OTLP spec).
    const url = env!.signalSpecific ? env!.endpoint : `${env!.endpoint.replace(/\/+$/, '')}/v1/traces`;
    exporter = new OTLPTraceExporter({ url });
  }
  const resource = new ResourceClass({ 'service.name': env?.serviceName ?? options.serviceName });
  // Tests read spans as soon as they end; a real exporter gets them in batches.
  const spanProcessor = options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register(); // the global provider, AsyncLocalStorage context and W3C propagation
  installed = {
    resource,
    spanProcessor,
    shutdown: async () => {
      await provider.shutdown().catch(() => undefined);
      installed = undefined;
    },
  };
  return installed;
}

/** Runs `fn` in a span that is the active one inside it; an error marks the span failed by its class name. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, kind = SpanKind.CLIENT): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorName(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The error's class name: never its message, which may quote a URL with its key. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

const hexBlock = (value: unknown): number | undefined => (typeof value === 'string' && /^0x[0-9a-f]+$/i.test(value) ? Number.parseInt(value, 16) : undefined);

/** Attributes of an RPC span: method, endpoint label (redacted) and, where the request names them, blocks. */
export function rpcSpanAttributes(method: string, params: unknown[], endpointLabel: string): Attributes {
  const attributes: Attributes = { 'rpc.system': 'jsonrpc', 'rpc.method': method, 'indexer.rpc.endpoint': endpointLabel };
  const first = params[0] as { fromBlock?: unknown; toBlock?: unknown } | unknown;
  if (method === 'eth_getLogs' && first && typeof first === 'object') {
    const from = hexBlock((first as { fromBlock?: unknown }).fromBlock);
    const to = hexBlock((first as { toBlock?: unknown }).toBlock);
    if (from !== undefined) attributes['indexer.block.from'] = from;
    if (to !== undefined) attributes['indexer.block.to'] = to;
  } else if (method === 'eth_getBlockByNumber') {
    const block = hexBlock(first);
    if (block !== undefined) attributes['indexer.block.number'] = block;
  }
  return attributes;
}

/** One RPC request as a span: `rpc <method>`. */
export function rpcSpan<T>(method: string, params: unknown[], endpointLabel: string, fn: () => Promise<T>): Promise<T> {
  return inSpan(`rpc ${method}`, rpcSpanAttributes(method, params, endpointLabel), fn);
}
