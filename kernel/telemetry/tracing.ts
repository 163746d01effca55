// OpenTelemetry tracing of one Bulkhead process (docs/observability.md, "Traces"): a tracer provider
// whose spans leave in batches over OTLP/HTTP (JSON) to the operator's endpoint. Without an endpoint
// there is no provider at all: `startTracing` answers undefined and every caller skips its spans,
// so a process that does not trace pays one `undefined` check per step.
import { context, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { AsyncContextManager } from './async-context.ts';

const VERSION = '0.1.0';

export interface Tracing {
  readonly tracer: Tracer;
  /**
   * Queues finished spans that were not recorded by this process (a tenant runtime's, once the
   * router checked them) for the same export as its own.
   */
  exportSpans(spans: readonly ReadableSpan[]): void;
  /** Exports what is queued now. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** `service.name` of this process's spans. */
  service: string;
  /** The OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces); none: no tracing. */
  endpoint: string | undefined;
  /**
   * Share of traces recorded (0 to 1; default 1), decided on the trace id: of new traces, and with
   * `clientParents` of those a `traceparent` continues too.
   */
  sampleRatio?: number | undefined;
  /**
   * The `traceparent`s this process continues are its clients' (the router's callers): the trace
   * continues, but whether it is recorded is `sampleRatio`'s call, not the flag's, so a client can
   * neither force every call traced nor keep its calls from the operator's traces. Without it (the
   * supervisor, whose parents are the router's) the parent's flag decides, and a trace is recorded
   * whole or not at all. Spans under a span of this process follow it either way.
   */
  clientParents?: boolean | undefined;
  /** Replaces the OTLP exporter (unit tests of the span shapes). */
  exporter?: SpanExporter;
}

let contextManager: AsyncContextManager | undefined;

/** The active span follows async calls (the supervisor job a call causes reads it): set up once. */
function propagateContext(): void {
  if (contextManager) return;
  contextManager = new AsyncContextManager();
  context.setGlobalContextManager(contextManager);
}

export function serviceResource(service: string, attributes: Record<string, string> = {}): Resource {
  return resourceFromAttributes({
    [ATTR_SERVICE_NAME]: service,
    [ATTR_SERVICE_VERSION]: VERSION,
    ...attributes,
  });
}

export function startTracing(options: TracingOptions): Tracing | undefined {
  if (options.endpoint === undefined && options.exporter === undefined) return undefined;
  propagateContext();
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: options.endpoint });
  // Bounded queue: when the collector is slow or gone, spans are dropped, never the process's memory.
  // Exports of up to 2048 spans (the SDK's default is 512): each export is an HTTP request on this
  // process's event loop, so a busy router sends a quarter as many.
  const processor = new BatchSpanProcessor({
    exporter,
    maxQueueSize: 4096,
    maxExportBatchSize: 2048,
    scheduledDelayMillis: 1000,
  });
  const provider = new TracerProvider({
    resource: serviceResource(options.service),
    spanProcessors: [processor],
    sampler: sampler(options),
  });
  const tracer = provider.getTracer(options.service, VERSION);
  return {
    tracer,
    exportSpans(spans) {
      for (const span of spans) processor.onEnd(span);
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/** OpenTelemetry's ParentBased over the ratio; with `clientParents`, the ratio for remote parents too. */
function sampler(options: TracingOptions): ParentBasedSampler {
  const ratio = new TraceIdRatioBasedSampler(options.sampleRatio ?? 1);
  if (!options.clientParents) return new ParentBasedSampler({ root: ratio });
  return new ParentBasedSampler({ root: ratio, remoteParentSampled: ratio, remoteParentNotSampled: ratio });
}
