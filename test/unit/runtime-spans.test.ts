// The runtime's spans header (kernel/telemetry/runtime-spans.ts), both sides: the runtime's real SDK
// spans round-trip; the router keeps only a tree beneath the span it handed the call, of a sampled
// trace, within the exchange's time; it bounds everything, forces its resource, and no input at all
// makes the decoder throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serviceResource } from '../../kernel/telemetry/tracing.ts';
import { decodeRuntimeSpans, RUNTIME_SPANS_MAX_BYTES } from '../../kernel/telemetry/runtime-spans.ts';
import { CallTracer, traceToolCall } from '../../runtime-image/src/tracing/call-tracer.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const HANDED = '00f067aa0ba902b7';
const PARENT = `00-${TRACE}-${HANDED}-01`;
const resource = serviceResource('bulkhead-runtime', { 'bulkhead.tenant': 'acme' });
/** The exchange of the spans `otlpSpan` makes (1700000000 s to a quarter second later). */
const exchange = { sentAt: 1_700_000_000_000, answeredAt: 1_700_000_000_300 };
const options = { traceparent: PARENT, exchange, resource };

function header(spans: unknown[]): string {
  const otlp = { resourceSpans: [{ scopeSpans: [{ spans }] }] };
  return Buffer.from(JSON.stringify(otlp)).toString('base64url');
}

function otlpSpan(traceId: string, name: string, attributes: unknown[] = []) {
  return {
    traceId,
    spanId: '1111111111111111',
    parentSpanId: HANDED,
    name,
    kind: 2,
    startTimeUnixNano: '1700000000000000000',
    endTimeUnixNano: '1700000000250000000',
    attributes,
  };
}

describe('runtime spans header', () => {
  it("round-trips the runtime's call and tool spans under the call's trace", async () => {
    const call = new CallTracer().begin(PARENT, { tenant: 'acme', method: 'tools/call' });
    expect(call).toBeDefined();
    const result = await traceToolCall(call, { name: 'records_get', pack: 'records' }, () =>
      Promise.resolve({ isError: true, structuredContent: { error: { error_class: 'validation' } } }),
    );
    expect(result.isError).toBe(true);
    const value = call!.finish();
    expect(value).toBeDefined();
    const now = { sentAt: Date.now() - 60_000, answeredAt: Date.now() };
    const { spans, dropped } = decodeRuntimeSpans(value!, { ...options, exchange: now });
    expect(dropped).toBe(0);
    expect(spans.map((s) => s.name).sort()).toEqual(['execute_tool records_get', 'runtime tools/call']);
    const tool = spans.find((s) => s.name === 'execute_tool records_get')!;
    const runtime = spans.find((s) => s.name === 'runtime tools/call')!;
    expect(tool.parentSpanContext?.spanId).toBe(runtime.spanContext().spanId);
    expect(runtime.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(tool.attributes).toMatchObject({ 'gen_ai.tool.name': 'records_get', 'error.type': 'validation' });
    expect(tool.resource.attributes['bulkhead.tenant']).toBe('acme');
  });

  it('traces nothing without a valid traceparent', () => {
    const tracer = new CallTracer();
    expect(tracer.begin(undefined, { tenant: 'acme' })).toBeUndefined();
    expect(
      tracer.begin('00-00000000000000000000000000000000-00f067aa0ba902b7-01', { tenant: 'acme' }),
    ).toBeUndefined();
    expect(tracer.begin('not a traceparent', { tenant: 'acme' })).toBeUndefined();
  });

  it('drops spans of another trace and a claimed tenant attribute', () => {
    const claimed = [{ key: 'bulkhead.tenant', value: { stringValue: 'other' } }];
    const { spans, dropped } = decodeRuntimeSpans(
      header([otlpSpan('ffffffffffffffffffffffffffffffff', 'foreign'), otlpSpan(TRACE, 'own', claimed)]),
      options,
    );
    expect(dropped).toBe(1);
    expect(spans.map((s) => s.name)).toEqual(['own']);
    expect(spans[0]!.attributes['bulkhead.tenant']).toBeUndefined();
    expect(spans[0]!.resource.attributes['bulkhead.tenant']).toBe('acme');
  });

  it('refuses what is over its bounds', () => {
    expect(decodeRuntimeSpans('a'.repeat(RUNTIME_SPANS_MAX_BYTES + 1), options)).toEqual({
      spans: [],
      dropped: 1,
    });
    const many = Array.from({ length: 100 }, (_, i) => otlpSpan(TRACE, `s${i}`));
    expect(decodeRuntimeSpans(header(many), options).spans).toHaveLength(0);
    const long = otlpSpan(TRACE, 'x'.repeat(500));
    const backwards = { ...otlpSpan(TRACE, 'backwards'), endTimeUnixNano: '1' };
    expect(decodeRuntimeSpans(header([long, backwards]), options).spans).toHaveLength(0);
  });

  it('the runtime keeps its header within the bound, dropping the deepest spans', async () => {
    const call = new CallTracer().begin(PARENT, { tenant: 'acme' })!;
    for (let i = 0; i < 200; i++) await traceToolCall(call, { name: `tool_${i}` }, () => Promise.resolve({}));
    const value = call.finish()!;
    expect(value.length).toBeLessThanOrEqual(RUNTIME_SPANS_MAX_BYTES);
    const now = { sentAt: Date.now() - 60_000, answeredAt: Date.now() };
    const { spans, dropped } = decodeRuntimeSpans(value, { ...options, exchange: now });
    // The call's span (the last to end) is kept, so every tool span kept has its parent.
    expect(spans.map((s) => s.name)).toContain('runtime call');
    expect(spans.length).toBeGreaterThan(1);
    expect(dropped).toBe(0);
  });

  it('keeps only a tree beneath the handed span: no second root, no reused or orphan id', () => {
    const child = (name: string, spanId: string, parentSpanId?: string) => ({
      ...otlpSpan(TRACE, name),
      spanId,
      parentSpanId,
    });
    const { spans, dropped } = decodeRuntimeSpans(
      header([
        // Children come first, as the runtime's SDK ends them.
        child('grandchild', '3333333333333333', '2222222222222222'),
        child('child', '2222222222222222', HANDED),
        child('router span', HANDED, '2222222222222222'),
        child('root', '4444444444444444'),
        child('empty parent', '5555555555555555', ''),
        child('orphan', '6666666666666666', '7777777777777777'),
        child('twin a', '8888888888888888', HANDED),
        child('twin b', '8888888888888888', HANDED),
        child('cycle a', '9999999999999999', 'aaaaaaaaaaaaaaaa'),
        child('cycle b', 'aaaaaaaaaaaaaaaa', '9999999999999999'),
      ]),
      options,
    );
    expect(spans.map((s) => s.name)).toEqual(['grandchild', 'child']);
    expect(dropped).toBe(8);
  });

  it('keeps only spans within the exchange, a second of clock slack either side', () => {
    const at = (name: string, start: bigint, end: bigint) => ({
      ...otlpSpan(TRACE, name),
      spanId: `${name.length.toString(16).padStart(2, '0')}${'1'.repeat(14)}`,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(end),
    });
    const sent = BigInt(exchange.sentAt) * 1_000_000n;
    const answered = BigInt(exchange.answeredAt) * 1_000_000n;
    const second = 1_000_000_000n;
    const { spans } = decodeRuntimeSpans(
      header([
        at('in', sent, answered),
        at('in slack', sent - second, answered + second),
        at('before the call', sent - second - 1n, answered),
        at('after the answer came', sent, answered + second + 1n),
        at('from 1970 to 2500', 1n, 16_725_225_600_000_000_000n),
      ]),
      options,
    );
    expect(spans.map((s) => s.name)).toEqual(['in', 'in slack']);
  });

  it('exports nothing of a trace the router does not sample, or without a traceparent', () => {
    const value = header([otlpSpan(TRACE, 'own')]);
    expect(decodeRuntimeSpans(value, options).spans).toHaveLength(1);
    const unsampled = { ...options, traceparent: PARENT.replace(/-01$/, '-00') };
    expect(decodeRuntimeSpans(value, unsampled)).toEqual({ spans: [], dropped: 1 });
    expect(decodeRuntimeSpans(value, { ...options, traceparent: 'garbage' })).toEqual({
      spans: [],
      dropped: 1,
    });
  });

  it('never throws on hostile input', () => {
    const spanLike = fc.record({
      traceId: fc.oneof(fc.constant(TRACE), fc.string()),
      spanId: fc.oneof(fc.constant('1111111111111111'), fc.string()),
      name: fc.string(),
      kind: fc.oneof(fc.integer(), fc.string()),
      startTimeUnixNano: fc.oneof(fc.bigInt({ min: 0n }).map(String), fc.string(), fc.double()),
      endTimeUnixNano: fc.oneof(fc.bigInt({ min: 0n }).map(String), fc.string(), fc.double()),
      attributes: fc.array(fc.record({ key: fc.string(), value: fc.anything() })),
      status: fc.anything(),
    });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(spanLike).map(header),
          fc.anything().map((v) => header([v])),
        ),
        (h) => {
          const { spans } = decodeRuntimeSpans(h, options);
          for (const span of spans) {
            expect(span.spanContext().traceId).toBe(TRACE);
            expect(span.spanContext().spanId).not.toBe(HANDED);
            expect(span.parentSpanContext?.spanId).toBeDefined();
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
