// The router's request span (router/request/request-trace.ts) on the SDK's in-memory exporter: the
// parent a client names, the MCP attributes, identities only when enabled, and a request refused
// before its body was read.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../../kernel/telemetry/tracing.ts';
import type { Principal } from '../../router/identity/principal.ts';
import { traceparentOf } from '../../kernel/telemetry/trace-context.ts';
import { RequestTrace } from '../../router/request/request-trace.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = `00-${TRACE}-00f067aa0ba902b7-01`;
const principal = { tenant: 'acme', user: 'alice', agent: 'agent-1', scopes: [] } as unknown as Principal;
const call = (meta: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'records_get', arguments: { id: 'secret-argument' }, _meta: meta },
});

let exporter: InMemorySpanExporter;
let tracing: Tracing;

function setUp(sampleRatio = 1): Tracing {
  exporter = new InMemorySpanExporter();
  // As the router starts it (router/router.ts): its remote parents are its clients'.
  tracing = startTracing({
    service: 'bulkhead-router',
    endpoint: undefined,
    exporter,
    sampleRatio,
    clientParents: true,
  })!;
  return tracing;
}

async function finished() {
  await tracing.flush();
  return exporter.getFinishedSpans();
}

afterEach(async () => {
  await tracing.shutdown();
});

describe('request trace', () => {
  it('continues the traceparent header, with the MCP attributes and no identities by default', async () => {
    const trace = new RequestTrace(
      { tracing: setUp(), identities: false },
      { traceparent: PARENT, 'mcp-session-id': 'session-1', 'mcp-protocol-version': '2025-11-25' },
    );
    trace.authenticated();
    expect(trace.begin({ body: call(), principal, tool: 'records_get' })).toBe(TRACE);
    await trace.step('rate_limit', async () => {
      await trace.step('inner', () => Promise.resolve());
    });
    trace.failed('rate_limit');
    trace.finish(200);
    const spans = await finished();
    const request = spans.find((s) => s.name === 'tools/call records_get')!;
    expect(request.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(request.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'mcp.protocol.version': '2025-11-25',
      'mcp.session.id': 'session-1',
      'jsonrpc.request.id': '7',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'records_get',
      'bulkhead.tenant': 'acme',
      'error.type': 'rate_limit',
    });
    expect(request.attributes['enduser.id']).toBeUndefined();
    const inner = spans.find((s) => s.name === 'inner')!;
    const step = spans.find((s) => s.name === 'rate_limit')!;
    expect(inner.parentSpanContext?.spanId).toBe(step.spanContext().spanId);
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain('secret-argument');
  });

  it('takes the parent from params._meta when there is no header, and identities when enabled', async () => {
    const trace = new RequestTrace({ tracing: setUp(), identities: true }, {});
    trace.authenticated();
    trace.begin({ body: call({ traceparent: PARENT }), principal, tool: 'records_get' });
    trace.finish(200);
    const [auth, request] = await finished();
    expect(auth!.name).toBe('authentication');
    expect(request!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(request!.attributes).toMatchObject({ 'enduser.id': 'alice', 'gen_ai.agent.id': 'agent-1' });
  });

  it('a request refused before its body: a new trace, a failed authentication, the status as error.type', async () => {
    const trace = new RequestTrace({ tracing: setUp(), identities: false }, { traceparent: 'garbage' });
    trace.finish(401);
    const spans = await finished();
    const request = spans.find((s) => s.name === 'mcp request')!;
    expect(request.parentSpanContext).toBeUndefined();
    expect(request.attributes['error.type']).toBe('401');
    expect(spans.find((s) => s.name === 'authentication')!.attributes['error.type']).toBe('authentication');
  });

  it("records nothing at ratio 0, not even a client's sampled traceparent, whose trace id it continues", async () => {
    const unsampled = new RequestTrace({ tracing: setUp(0), identities: false }, {});
    unsampled.authenticated();
    expect(unsampled.begin({ body: call(), principal, tool: 'records_get' })).toMatch(/^[0-9a-f]{32}$/);
    unsampled.finish(200);
    const forced = new RequestTrace({ tracing, identities: false }, { traceparent: PARENT });
    forced.authenticated();
    expect(forced.begin({ body: call(), principal, tool: 'records_get' })).toBe(TRACE);
    const handed = await forced.step('dispatch', () => Promise.resolve(traceparentOf()));
    forced.finish(200);
    expect(handed).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`));
    expect(await finished()).toHaveLength(0);
  });

  it("records a client's unsampled traceparent at ratio 1, continuing its trace, its steps too", async () => {
    const trace = new RequestTrace(
      { tracing: setUp(1), identities: false },
      { traceparent: PARENT.replace(/-01$/, '-00') },
    );
    trace.authenticated();
    expect(trace.begin({ body: call(), principal, tool: 'records_get' })).toBe(TRACE);
    const handed = await trace.step('dispatch', () => Promise.resolve(traceparentOf()));
    trace.finish(200);
    expect(handed).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    const spans = await finished();
    expect(spans.map((s) => s.name).sort()).toEqual(['authentication', 'dispatch', 'tools/call records_get']);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([TRACE]));
    const request = spans.find((s) => s.name === 'tools/call records_get')!;
    expect(request.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });

  it('a leaf step is timed but not made active: what runs in it is a child of the request', async () => {
    const trace = new RequestTrace({ tracing: setUp(), identities: false }, {});
    trace.authenticated();
    trace.begin({ body: call(), principal, tool: 'records_get' });
    await trace.step('audit', () => trace.step('inner', () => Promise.resolve()), { leaf: true });
    await expect(
      trace.step('rate_limit', () => Promise.reject(new Error('down')), { leaf: true }),
    ).rejects.toThrow('down');
    trace.finish(200);
    const spans = await finished();
    const request = spans.find((s) => s.name === 'tools/call records_get')!;
    for (const name of ['audit', 'inner', 'rate_limit'])
      expect(spans.find((s) => s.name === name)!.parentSpanContext?.spanId).toBe(
        request.spanContext().spanId,
      );
    expect(spans.find((s) => s.name === 'rate_limit')!.attributes['error.type']).toBe('internal');
  });

  it('a trace not sampled records no step, but its context still reaches what a step calls', async () => {
    const trace = new RequestTrace({ tracing: setUp(0), identities: false }, {});
    trace.authenticated();
    const traceId = trace.begin({ body: call(), principal, tool: 'records_get' });
    const seen = await trace.step('dispatch', () => Promise.resolve(traceparentOf()));
    expect(trace.stepSync('validation', () => 'checked')).toBe('checked');
    trace.finish(200);
    expect(seen).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
    expect(await finished()).toHaveLength(0);
  });
});
