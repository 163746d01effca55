// Runs work inside a span: the span is active while it runs (what the work starts is its child),
// a throw marks it failed (`error.type` = internal), and it always ends.
import { context, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';

export async function inSpan<T>(span: Span, parent: Context, work: () => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(parent, span), work);
  } catch (error) {
    failSpan(span);
    throw error;
  } finally {
    span.end();
  }
}

/** The work in `span` threw: the span is failed with `error.type` = internal. */
export function failSpan(span: Span): void {
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.setAttribute('error.type', 'internal');
}
