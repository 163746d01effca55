// Spans inside the tenant runtime (docs/observability.md, "Traces"). The container has no network:
// the spans of one call are kept here until its answer is ready, then leave with that answer in a
// response header (kernel/telemetry/runtime-spans.ts), and the router exports them. Only a call
// whose assertion carries a `traceparent` is traced: the router sends one only when it traces.
import { SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { encodeRuntimeSpans } from '../../../kernel/telemetry/runtime-spans.ts';
import { contextFromTraceparent } from '../../../kernel/telemetry/trace-context.ts';

/** One traced call: the parent of its spans, and the header value of its finished spans. */
export interface CallTrace {
  readonly context: Context;
  readonly tracer: Tracer;
  /** Ends the call's span and hands out every finished span of the call (undefined: none). */
  finish(): string | undefined;
}

/** Keeps finished spans of the calls in flight, by trace; a call's spans leave with its answer. */
class CallSpans implements SpanProcessor {
  readonly open = new Map<string, ReadableSpan[]>();
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.open.get(span.spanContext().traceId)?.push(span);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    this.open.clear();
    return Promise.resolve();
  }
}

export class CallTracer {
  private readonly spans = new CallSpans();
  private readonly tracer: Tracer;

  constructor() {
    this.tracer = new TracerProvider({ spanProcessors: [this.spans] }).getTracer('bulkhead-runtime');
  }

  /** The call's trace when the router asked for one (a valid `traceparent`), else undefined. */
  begin(
    traceparent: string | undefined,
    attributes: { tenant: string; method?: string },
  ): CallTrace | undefined {
    const parent = contextFromTraceparent(traceparent);
    if (!parent) return undefined;
    const traceId = trace.getSpanContext(parent)?.traceId;
    if (traceId === undefined) return undefined;
    // A second call of one trace while the first is in flight joins its list; the first to finish
    // takes what has ended by then (the router sends a trace's requests one after the other).
    if (!this.spans.open.has(traceId)) this.spans.open.set(traceId, []);
    const span: Span = this.tracer.startSpan(
      attributes.method ? `runtime ${attributes.method}` : 'runtime call',
      {
        kind: SpanKind.SERVER,
        attributes: attributes.method ? { 'mcp.method.name': attributes.method } : {},
      },
      parent,
    );
    const context = trace.setSpan(parent, span);
    const spans = this.spans.open;
    return {
      context,
      tracer: this.tracer,
      finish() {
        span.end();
        const finished = spans.get(traceId) ?? [];
        spans.delete(traceId);
        return encodeRuntimeSpans(finished);
      },
    };
  }
}

/** The error class of a tool result that failed (kernel/tools/tool-errors.ts), for `error.type`. */
function errorClassOf(result: unknown): string | undefined {
  const value = result as
    { isError?: unknown; structuredContent?: { error?: { error_class?: unknown } } } | undefined;
  if (value?.isError !== true) return undefined;
  const errorClass = value.structuredContent?.error?.error_class;
  return typeof errorClass === 'string' ? errorClass : 'tool_error';
}

/**
 * Runs one tool's handler in a span of the call (the records tools today, a pack's tools through the
 * same wrapper): `gen_ai.tool.name`, the pack, and the result's error class as `error.type`. The
 * handler gets the call's trace with the tool's span as parent. Without a trace it is the handler alone.
 */
export async function traceToolCall<T>(
  call: CallTrace | undefined,
  tool: { name: string; pack?: string },
  handler: (toolTrace: CallTrace | undefined) => Promise<T>,
): Promise<T> {
  if (!call) return handler(undefined);
  const span = call.tracer.startSpan(
    `execute_tool ${tool.name}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': tool.name,
        ...(tool.pack ? { 'bulkhead.pack.name': tool.pack } : {}),
      },
    },
    call.context,
  );
  // What the handler starts (a pack's relay) is a child of the tool's span.
  const toolTrace: CallTrace = { ...call, context: trace.setSpan(call.context, span) };
  try {
    const result = await handler(toolTrace);
    const errorType = errorClassOf(result);
    if (errorType) {
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    return result;
  } catch (error) {
    span.setAttribute('error.type', 'internal');
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
