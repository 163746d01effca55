// How a tenant runtime's spans leave its container, which has no network (docs/observability.md,
// "Traces"): with the answer to the call they belong to, as OTLP JSON in one bounded response header
// (base64url). The router decodes them as hostile input: only spans of the trace it handed the
// runtime survive, every field is bounded, the resource is the router's (service and tenant), and
// nothing in the header can throw out of `decodeRuntimeSpans`.
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime } from '@opentelemetry/api';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { z } from 'zod';

export const RUNTIME_SPANS_HEADER = 'bulkhead-trace-spans';
/** Largest header value a runtime sends; the router's header bound (16 KiB by default) is above it. */
export const RUNTIME_SPANS_MAX_BYTES = 8 * 1024;
const MAX_SPANS = 32;
const MAX_ATTRIBUTES = 32;
const SCOPE = { name: 'bulkhead-runtime' };

/** The runtime's side: its finished spans of one call as a header value, dropping the last ones over the bound. */
export function encodeRuntimeSpans(spans: readonly ReadableSpan[]): string | undefined {
  let kept = spans.slice(0, MAX_SPANS);
  while (kept.length > 0) {
    const json = JsonTraceSerializer.serializeRequest(kept);
    const value = json ? Buffer.from(json).toString('base64url') : '';
    if (value.length <= RUNTIME_SPANS_MAX_BYTES) return value || undefined;
    kept = kept.slice(0, -1);
  }
  return undefined;
}

const Nanos = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()]);
const AnyValue = z.object({
  stringValue: z.string().max(256).optional(),
  boolValue: z.boolean().optional(),
  intValue: z.union([z.string().regex(/^-?\d{1,19}$/), z.number().int()]).optional(),
  doubleValue: z.number().optional(),
});
const OtlpSpan = z.object({
  traceId: z.string().regex(/^[0-9a-f]{32}$/),
  spanId: z.string().regex(/^[0-9a-f]{16}$/),
  parentSpanId: z
    .string()
    .regex(/^([0-9a-f]{16})?$/)
    .optional(),
  name: z.string().min(1).max(128),
  kind: z.number().int().min(0).max(5).optional(),
  startTimeUnixNano: Nanos,
  endTimeUnixNano: Nanos,
  attributes: z
    .array(z.object({ key: z.string().min(1).max(128), value: AnyValue }))
    .max(MAX_ATTRIBUTES)
    .optional(),
  status: z
    .object({ code: z.number().int().min(0).max(2).optional(), message: z.string().max(256).optional() })
    .optional(),
});
type OtlpSpan = z.infer<typeof OtlpSpan>;
const OtlpRequest = z.object({
  resourceSpans: z
    .array(z.object({ scopeSpans: z.array(z.object({ spans: z.array(z.unknown()).max(MAX_SPANS) })).max(4) }))
    .max(4),
});

export interface DecodedRuntimeSpans {
  spans: ReadableSpan[];
  /** Spans refused: of another trace, malformed, or beyond the bounds (all of them for a bad header). */
  dropped: number;
}

export interface DecodeOptions {
  /** The trace the router handed the runtime with this call: every other trace id is dropped. */
  traceId: string;
  /** The resource the spans are exported under, set by the router (never the runtime's own). */
  resource: Resource;
}

function hrTime(nanos: string | number): HrTime {
  const value = BigInt(nanos);
  return [Number(value / 1_000_000_000n), Number(value % 1_000_000_000n)];
}

function attributesOf(span: OtlpSpan): Attributes {
  const attributes: Attributes = {};
  for (const { key, value } of span.attributes ?? []) {
    // The tenant is the resource's, set by the router: a runtime cannot claim another.
    if (key.startsWith('bulkhead.tenant')) continue;
    const v =
      value.stringValue ??
      value.boolValue ??
      value.doubleValue ??
      (value.intValue === undefined ? undefined : Number(value.intValue));
    if (v !== undefined) attributes[key] = v;
  }
  return attributes;
}

const OTLP_KINDS = [
  SpanKind.INTERNAL,
  SpanKind.INTERNAL,
  SpanKind.SERVER,
  SpanKind.CLIENT,
  SpanKind.PRODUCER,
  SpanKind.CONSUMER,
];
const STATUS = [SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR];

function readable(span: OtlpSpan, resource: Resource): ReadableSpan | undefined {
  const start = BigInt(span.startTimeUnixNano);
  const end = BigInt(span.endTimeUnixNano);
  if (end < start) return undefined;
  const { traceId, spanId, parentSpanId } = span;
  const spanContext = { traceId, spanId, traceFlags: TraceFlags.SAMPLED };
  return {
    name: span.name,
    kind: OTLP_KINDS[span.kind ?? 1] ?? SpanKind.INTERNAL,
    spanContext: () => spanContext,
    ...(parentSpanId
      ? { parentSpanContext: { traceId, spanId: parentSpanId, traceFlags: TraceFlags.SAMPLED } }
      : {}),
    startTime: hrTime(span.startTimeUnixNano),
    endTime: hrTime(span.endTimeUnixNano),
    duration: hrTime((end - start).toString()),
    status: {
      code: STATUS[span.status?.code ?? 0] ?? SpanStatusCode.UNSET,
      ...(span.status?.message ? { message: span.status.message } : {}),
    },
    attributes: attributesOf(span),
    links: [],
    events: [],
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** The router's side: the spans of `options.traceId` in a runtime's header value. */
export function decodeRuntimeSpans(header: string, options: DecodeOptions): DecodedRuntimeSpans {
  if (header.length > RUNTIME_SPANS_MAX_BYTES) return { spans: [], dropped: 1 };
  let request: z.infer<typeof OtlpRequest>;
  try {
    request = OtlpRequest.parse(JSON.parse(Buffer.from(header, 'base64url').toString('utf8')));
  } catch {
    return { spans: [], dropped: 1 };
  }
  const candidates = request.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  const spans: ReadableSpan[] = [];
  for (const candidate of candidates.slice(0, MAX_SPANS)) {
    const parsed = OtlpSpan.safeParse(candidate);
    if (!parsed.success || parsed.data.traceId !== options.traceId) continue;
    const span = readable(parsed.data, options.resource);
    if (span) spans.push(span);
  }
  return { spans, dropped: candidates.length - spans.length };
}
