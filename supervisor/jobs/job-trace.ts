// The supervisor's span for an ensure job a traced call caused (docs/observability.md, "Traces"):
// a child of the call's dispatch span (its `traceparent` came in the job), so the cold start or wake
// is part of the call's trace. The span is active while the job runs: the lifecycle controller's
// report of what it did (supervisor.ts, `annotateStart`) lands on it.
import { SpanKind, trace } from '@opentelemetry/api';
import { inSpan } from '../../kernel/telemetry/spans.ts';
import { contextFromTraceparent } from '../../kernel/telemetry/trace-context.ts';
import type { Tracing } from '../../kernel/telemetry/tracing.ts';

export async function traceJob<T>(
  tracing: Tracing | undefined,
  traceparent: string | undefined,
  tenant: string,
  job: () => Promise<T>,
): Promise<T> {
  const parent = tracing && contextFromTraceparent(traceparent);
  if (!tracing || !parent) return job();
  const span = tracing.tracer.startSpan(
    'runtime ensure',
    { kind: SpanKind.CONSUMER, attributes: { 'bulkhead.tenant': tenant, 'messaging.system': 'bullmq' } },
    parent,
  );
  return inSpan(span, parent, job);
}

/** Records on the active job span how the runtime came up: `create` (a cold start) or `wake`. */
export function annotateStart(start: { kind: 'create' | 'wake'; seconds: number; from?: string }): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  span.setAttribute('bulkhead.runtime.start', start.kind);
  if (start.from) span.setAttribute('bulkhead.runtime.from', start.from);
  span.addEvent(start.kind === 'create' ? 'cold start' : 'wake');
}
