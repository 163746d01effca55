// The runtime's spans header (kernel/telemetry/runtime-spans.ts), both sides: the runtime's real SDK
// spans round-trip; the router keeps only the call's trace, bounds everything, forces its resource,
// and no input at all makes the decoder throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serviceResource } from '../../kernel/telemetry/tracing.ts';
import { decodeRuntimeSpans, RUNTIME_SPANS_MAX_BYTES } from '../../kernel/telemetry/runtime-spans.ts';
import { CallTracer, traceToolCall } from '../../runtime-image/src/tracing/call-tracer.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = `00-${TRACE}-00f067aa0ba902b7-01`;
const resource = serviceResource('bulkhead-runtime', { 'bulkhead.tenant': 'acme' });

function header(spans: unknown[]): string {
  const otlp = { resourceSpans: [{ scopeSpans: [{ spans }] }] };
  return Buffer.from(JSON.stringify(otlp)).toString('base64url');
}

function otlpSpan(traceId: string, name: string, attributes: unknown[] = []) {
  return {
    traceId,
    spanId: '1111111111111111',
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
    const { spans, dropped } = decodeRuntimeSpans(value!, { traceId: TRACE, resource });
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
      { traceId: TRACE, resource },
    );
    expect(dropped).toBe(1);
    expect(spans.map((s) => s.name)).toEqual(['own']);
    expect(spans[0]!.attributes['bulkhead.tenant']).toBeUndefined();
    expect(spans[0]!.resource.attributes['bulkhead.tenant']).toBe('acme');
  });

  it('refuses what is over its bounds', () => {
    expect(decodeRuntimeSpans('a'.repeat(RUNTIME_SPANS_MAX_BYTES + 1), { traceId: TRACE, resource })).toEqual(
      {
        spans: [],
        dropped: 1,
      },
    );
    const many = Array.from({ length: 100 }, (_, i) => otlpSpan(TRACE, `s${i}`));
    expect(decodeRuntimeSpans(header(many), { traceId: TRACE, resource }).spans).toHaveLength(0);
    const long = otlpSpan(TRACE, 'x'.repeat(500));
    const backwards = { ...otlpSpan(TRACE, 'backwards'), endTimeUnixNano: '1' };
    expect(decodeRuntimeSpans(header([long, backwards]), { traceId: TRACE, resource }).spans).toHaveLength(0);
  });

  it('the runtime keeps its header within the bound, dropping the last spans', async () => {
    const call = new CallTracer().begin(PARENT, { tenant: 'acme' })!;
    for (let i = 0; i < 200; i++) await traceToolCall(call, { name: `tool_${i}` }, () => Promise.resolve({}));
    const value = call.finish()!;
    expect(value.length).toBeLessThanOrEqual(RUNTIME_SPANS_MAX_BYTES);
    expect(decodeRuntimeSpans(value, { traceId: TRACE, resource }).spans.length).toBeGreaterThan(0);
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
          const { spans } = decodeRuntimeSpans(h, { traceId: TRACE, resource });
          for (const span of spans) expect(span.spanContext().traceId).toBe(TRACE);
        },
      ),
      { numRuns: 500 },
    );
  });
});
