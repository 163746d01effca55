// The span of one relay of a request to a pack's process (docs/observability.md, "The pack span"):
// a CLIENT span. For a tool call, child of the tool's `execute_tool` span, from the runtime taking
// the call for the pack (starting the pack first when it is down, the idempotency key table for a
// write) to the pack's answer or failure; a resource read, a prompt or a completion, child of the
// runtime's call span. It names the pack, its version and the tool; never the arguments, a URI or
// the result. Its `traceparent` is what the
// egress bridge may name as a link while it is the pack's only call in flight (egress-bridge.ts).
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { isErrorCode, type ErrorCode } from '../../../kernel/errors/error-codes.ts';
import { traceparentOf } from '../../../kernel/telemetry/trace-context.ts';
import type { CallTrace } from './call-tracer.ts';

/** The failures a relay names itself, as `error.type`; otherwise the runtime's tool error code. */
export type PackFailure =
  | 'pack_exited' // the pack's process ended during the call (a crash)
  | 'cancelled' // the caller went away or a question went unanswered
  | 'tool_error' // the pack answered with an error result (its own codes are never copied)
  | 'internal'
  | `${number}`; // the JSON-RPC error code the pack answered with

export interface PackCallSpan {
  /** The span's `traceparent`, for the egress bridge's link. */
  readonly traceparent: string | undefined;
  /** The pack had to be started for this call. */
  started(): void;
  /** Marks the span failed; the first failure named wins. */
  fail(errorType: PackFailure | ErrorCode): void;
  /**
   * The pack asked its client a question: the request answering now carries it, and its spans
   * leave with that answer, so this span ends here (the call goes on after the client's answer).
   */
  asked(method: string): void;
  /** Ends the span with the call's outcome: a failed result not named yet gives its code. */
  end(result?: unknown): void;
}

/** A failed tool result's code when it is one of ours (a pack's own codes are not), else `tool_error`. */
function failureOf(result: unknown): ErrorCode | 'tool_error' | undefined {
  const value = result as
    { isError?: unknown; structuredContent?: { error?: { code?: unknown } } } | undefined;
  if (value?.isError !== true) return undefined;
  const code = value.structuredContent?.error?.code;
  return isErrorCode(code) ? code : 'tool_error';
}

export interface PackSpanTarget {
  pack: string;
  version: string;
  /** What the runtime asks the pack: a tool call (with the tool), or another request it relays. */
  method: 'tools/call' | 'resources/read' | 'prompts/get' | 'completion/complete';
  /** A tool call's tool: the pack's own name and the client-visible one. */
  tool?: { name: string; exposed: string };
}

export function startPackSpan(call: CallTrace | undefined, target: PackSpanTarget): PackCallSpan | undefined {
  if (!call) return undefined;
  const { tool } = target;
  const span: Span = call.tracer.startSpan(
    tool ? `pack ${target.method} ${tool.exposed}` : `pack ${target.method}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'mcp.method.name': target.method,
        ...(tool
          ? {
              'gen_ai.operation.name': 'execute_tool',
              'gen_ai.tool.name': tool.exposed,
              'bulkhead.pack.tool': tool.name,
            }
          : {}),
        'bulkhead.pack.name': target.pack,
        'bulkhead.pack.version': target.version,
      },
    },
    call.context,
  );
  let ended = false;
  let failed = false;
  const fail = (errorType: string): void => {
    if (ended || failed) return;
    failed = true;
    span.setAttribute('error.type', errorType);
    span.setStatus({ code: SpanStatusCode.ERROR });
  };
  return {
    traceparent: traceparentOf(trace.setSpan(call.context, span)),
    // An attribute, not an event: the router keeps no events of a runtime's spans.
    started: () => span.setAttribute('bulkhead.pack.started', true),
    fail,
    asked(method) {
      if (ended) return;
      span.setAttribute('bulkhead.pack.asked', method);
      ended = true;
      span.end();
    },
    end(result) {
      if (ended) return;
      const failure = failureOf(result);
      if (failure) fail(failure);
      ended = true;
      span.end();
    },
  };
}

/** Runs a pack call in its span (none: the call alone), ending it with the outcome. */
export async function inPackSpan<T>(span: PackCallSpan | undefined, work: () => Promise<T>): Promise<T> {
  if (!span) return work();
  try {
    const result = await work();
    span.end(result);
    return result;
  } catch (error) {
    // A JSON-RPC error the pack answered with crosses as a protocol error carrying its code.
    const code = (error as { code?: unknown }).code;
    span.fail(typeof code === 'number' && Number.isInteger(code) ? `${code}` : 'internal');
    span.end();
    throw error;
  }
}
