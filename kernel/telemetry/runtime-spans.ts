// How a tenant runtime's spans leave its container, which has no network (docs/observability.md,
// "Traces"): with the answer to the call they belong to, as OTLP JSON in one bounded response header
// (base64url). The router decodes them as hostile input: only spans beneath the span it handed the
// runtime (of a trace it samples), within the exchange's time, survive; every field is bounded, the
// resource is the router's (service and tenant), and nothing in the header can throw out of
// `decodeRuntimeSpans`.
import {
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type HrTime,
} from '@opentelemetry/api';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { z } from 'zod';
import { contextFromTraceparent } from './trace-context.ts';

export const RUNTIME_SPANS_HEADER = 'bulkhead-trace-spans';
/** Largest header value a runtime sends; the router's header bound (16 KiB by default) is above it. */
export const RUNTIME_SPANS_MAX_BYTES = 8 * 1024;
const MAX_SPANS = 32;
const MAX_ATTRIBUTES = 32;
const SCOPE = { name: 'bulkhead-runtime' };
/** How far a runtime span may lie outside the exchange: the container reads the host's clock. */
const CLOCK_SLACK_NS = 1_000_000_000n;

/**
 * The spans parents first (breadth-first from those whose parent is not among them), so that every
 * prefix keeps each span's parent: the router drops a span whose parent did not come
 * (`decodeRuntimeSpans`), and the SDK hands them out as they end, the call's own span last.
 */
function parentsFirst(spans: readonly ReadableSpan[]): ReadableSpan[] {
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
  let level = spans.filter((s) => !ids.has(parentOf(s) ?? ''));
  const ordered: ReadableSpan[] = [];
  while (level.length > 0 && ordered.length < spans.length) {
    ordered.push(...level);
    const above = new Set(level.map((s) => s.spanContext().spanId));
    level = spans.filter((s) => above.has(parentOf(s) ?? ''));
  }
  return ordered;
}

/** The runtime's side: its finished spans of one call as a header value, the deepest dropped to fit. */
export function encodeRuntimeSpans(spans: readonly ReadableSpan[]): string | undefined {
  let kept = parentsFirst(spans).slice(0, MAX_SPANS);
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
  /**
   * Spans refused: of another trace, not beneath the handed span, outside the exchange, malformed,
   * or beyond the bounds (all of them for a bad header, or for a trace the router does not sample).
   */
  dropped: number;
}

export interface DecodeOptions {
  /** The `traceparent` the router handed the runtime with this call: the only parent of its spans. */
  traceparent: string;
  /** When the router sent the request and when the answer's headers came, ms since the epoch. */
  exchange: { sentAt: number; answeredAt: number };
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

function readable(span: OtlpSpan, resource: Resource): ReadableSpan {
  const start = BigInt(span.startTimeUnixNano);
  const end = BigInt(span.endTimeUnixNano);
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

/**
 * The spans that form a tree beneath `parent` (the span the router handed): each has a span id of
 * its own (not the router's, not another's) and a chain of parents among them that ends at
 * `parent`. A runtime cannot add a root to the caller's trace, re-send the router's span, or hang
 * spans anywhere else in it.
 */
function beneath(spans: OtlpSpan[], parent: string): OtlpSpan[] {
  const ids = new Map<string, number>();
  for (const { spanId } of spans) ids.set(spanId, (ids.get(spanId) ?? 0) + 1);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const reaches = (span: OtlpSpan): boolean => {
    let at: OtlpSpan | undefined = span;
    for (let hops = 0; at && hops <= spans.length; hops++) {
      if (at.parentSpanId === parent) return true;
      at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined;
    }
    return false;
  };
  return spans.filter((s) => s.spanId !== parent && ids.get(s.spanId) === 1 && reaches(s));
}

/** The span lies within the exchange: it starts after the request went and ends before the answer came. */
function withinExchange(span: OtlpSpan, exchange: DecodeOptions['exchange']): boolean {
  const from = BigInt(exchange.sentAt) * 1_000_000n - CLOCK_SLACK_NS;
  const to = BigInt(exchange.answeredAt) * 1_000_000n + CLOCK_SLACK_NS;
  const start = BigInt(span.startTimeUnixNano);
  const end = BigInt(span.endTimeUnixNano);
  return from <= start && start <= end && end <= to;
}

/** The router's side: the spans beneath `options.traceparent` in a runtime's header value. */
export function decodeRuntimeSpans(header: string, options: DecodeOptions): DecodedRuntimeSpans {
  const parent = contextFromTraceparent(options.traceparent);
  const handed = parent && trace.getSpanContext(parent);
  // A trace the router does not sample records nothing: the runtime's spans of it are not exported.
  const sampled = handed !== undefined && (handed.traceFlags & TraceFlags.SAMPLED) !== 0;
  if (!sampled || header.length > RUNTIME_SPANS_MAX_BYTES) return { spans: [], dropped: 1 };
  let request: z.infer<typeof OtlpRequest>;
  try {
    request = OtlpRequest.parse(JSON.parse(Buffer.from(header, 'base64url').toString('utf8')));
  } catch {
    return { spans: [], dropped: 1 };
  }
  const candidates = request.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  const parsed: OtlpSpan[] = [];
  for (const candidate of candidates.slice(0, MAX_SPANS)) {
    const span = OtlpSpan.safeParse(candidate);
    if (span.success && span.data.traceId === handed.traceId && withinExchange(span.data, options.exchange))
      parsed.push(span.data);
  }
  const spans = beneath(parsed, handed.spanId).map((span) => readable(span, options.resource));
  return { spans, dropped: candidates.length - spans.length };
}
