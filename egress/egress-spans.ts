// The egress gateway's spans (docs/observability.md, "Egress spans"): one per upstream request or
// CONNECT tunnel it handled, refused or served, from its arrival at the gateway to its end, with the
// tenant and the pack (both known from the tunnel the gateway dialed, never from the bytes), the
// upstream's host and port, the decision and the bytes each way. Nothing of the request itself: no
// path, no header, no body.
//
// Each span starts a trace of its own. When the tenant runtime's bridge named the pack's only call
// in flight as the connection opened, the span carries a link to that call's pack span: a link, not
// a parent, because the name comes from inside the tenant's container and says only that the
// connection opened while that call ran.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Link, type Tracer } from '@opentelemetry/api';
import { contextFromTraceparent } from '../kernel/telemetry/trace-context.ts';
import type { UpstreamEvent } from './upstream-event.ts';

function linkTo(traceparent: string | undefined): Link[] {
  const context = contextFromTraceparent(traceparent);
  const spanContext = context && trace.getSpanContext(context);
  if (!spanContext) return [];
  return [{ context: spanContext, attributes: { 'bulkhead.link.basis': 'sole_pack_call_in_flight' } }];
}

export function recordEgressSpan(tracer: Tracer, event: UpstreamEvent): void {
  const { ctx, call } = event;
  const span = tracer.startSpan(
    `egress ${call.method}`,
    {
      kind: SpanKind.CLIENT,
      startTime: event.started,
      links: linkTo(ctx.link),
      attributes: {
        'bulkhead.tenant': ctx.tenant,
        ...(ctx.pack ? { 'bulkhead.pack.name': ctx.pack } : {}),
        'server.address': call.host,
        'server.port': call.port,
        'http.request.method': call.method,
        'http.response.status_code': call.status,
        'bulkhead.egress.decision': event.decision,
        'bulkhead.egress.reason': event.reason,
        ...(call.upstream ? { 'bulkhead.egress.upstream': call.upstream } : {}),
        'bulkhead.egress.bytes_sent': call.bytes_sent,
        'bulkhead.egress.bytes_received': call.bytes_received,
      },
    },
    ROOT_CONTEXT,
  );
  if (event.errorType !== undefined) {
    span.setAttribute('error.type', event.errorType);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
