// A tenant runtime's spans, as they arrive with its answers (kernel/telemetry/runtime-spans.ts):
// decoded as hostile input, kept only beneath the span the router handed it with that very call (of
// a sampled trace) and within the exchange's time, put under the router's resource for the runtime
// (the tenant forced), and queued for the router's own OTLP export. A runtime that sends anything
// else is logged; it cannot stop the call.
import type { Logger } from 'pino';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import { decodeRuntimeSpans, type DecodeOptions } from '../../kernel/telemetry/runtime-spans.ts';
import { serviceResource, type Tracing } from '../../kernel/telemetry/tracing.ts';

/** Takes the spans header of one answer from the runtime the call went to, and the exchange's times. */
export type RuntimeSpanSink = (
  context: CallContext,
  header: string,
  exchange: DecodeOptions['exchange'],
) => void;

export function runtimeSpanSink(tracing: Tracing, logger: Logger): RuntimeSpanSink {
  return (context, header, exchange) => {
    const traceparent = context.trace;
    if (traceparent === undefined) return;
    const resource = serviceResource('bulkhead-runtime', { 'bulkhead.tenant': context.tenant });
    const { spans, dropped } = decodeRuntimeSpans(header, { traceparent, exchange, resource });
    tracing.exportSpans(spans);
    if (dropped > 0) logger.warn({ tenant: context.tenant, dropped }, 'dropped spans a tenant runtime sent');
  };
}
