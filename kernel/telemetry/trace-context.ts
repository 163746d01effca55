// W3C trace context (https://www.w3.org/TR/trace-context/): the `traceparent` a client sends, the
// one the router hands a tenant runtime in its call assertion and the supervisor in a job, read and
// written by OpenTelemetry's own propagator, so a malformed value is ignored, never trusted.
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  trace,
  type Context,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const propagator = new W3CTraceContextPropagator();

/** The context a valid `traceparent` continues, or undefined (a new trace starts). */
export function contextFromTraceparent(traceparent: unknown): Context | undefined {
  if (typeof traceparent !== 'string' || traceparent.length > 128) return undefined;
  const extracted = propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
  return trace.getSpanContext(extracted) ? extracted : undefined;
}

/** The `traceparent` of a context's span (the active one by default), if it has a valid one. */
export function traceparentOf(of: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  propagator.inject(of, carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/** The trace id a `traceparent` names (lowercase hex), or undefined for an invalid one. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const parent = contextFromTraceparent(traceparent);
  return parent ? trace.getSpanContext(parent)?.traceId : undefined;
}
