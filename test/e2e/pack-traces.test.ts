// One trace into a pack and out through the egress gateway, received by a real OTLP/HTTP endpoint,
// on the real engine, Redis, supervisor, router and gateway: the client's traceparent -> the
// router's request span -> the supervisor's cold start -> the tenant runtime's call -> the tool's
// span -> the relay to the pack's process; the pack's downstream call is the gateway's span, a
// trace of its own linked to that pack span (the pack had that one call in flight). A refused
// downstream call and a pack's JSON-RPC error carry their `error.type`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../../kernel/telemetry/tracing.ts';
import type { Upstream } from '../support/egress.ts';
import { startFetcherStack, type FetcherStack } from '../support/fetcher-tenant.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import type { TestStack } from '../support/stack.ts';
import {
  expectColdStartAndCall,
  newTraceparent,
  one,
  tracedClient,
  traceWith,
} from '../support/trace-assertions.ts';

const TENANT = 'pack-traced';
const TOOL = 'fetcher_get';
let receiver: OtlpReceiver;
let gatewayTracing: Tracing;
let fetcher: FetcherStack;
let stack: TestStack;
let allowed: Upstream;
let refused: Upstream;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  gatewayTracing = startTracing({ service: 'bulkhead-egress', endpoint: receiver.url })!;
  fetcher = await startFetcherStack({
    label: 'packtraces',
    tenant: TENANT,
    stack: {
      router: { otlpTracesEndpoint: receiver.url },
      supervisor: { otlpTracesEndpoint: receiver.url },
    },
    // Frequent passes: after the cold start below, the gateway dials the new container's bridge
    // well within the time a pack's proxy client waits for it (BULKHEAD_EGRESS_WAIT_MS).
    gateway: { refreshIntervalMs: 100, tracing: gatewayTracing },
  });
  ({ stack, allowed, refused } = fetcher);
}, 240_000);

afterAll(async () => {
  await fetcher?.close();
  await gatewayTracing?.shutdown();
  await receiver?.close();
});

const flush = async (): Promise<void> => {
  await Promise.all([stack.router.flushTraces(), gatewayTracing.flush()]);
};

/** The tool called with a traceparent of its own; what it answered and the trace's spans. */
async function tracedCall(url: string, names: string[]) {
  const parent = newTraceparent();
  const client = await tracedClient(stack.mcpUrl, await stack.agentToken(TENANT), {
    traceparent: parent.traceparent,
  });
  try {
    const result = await client.callTool({ name: TOOL, arguments: { url } });
    const spans = await traceWith(receiver, flush, parent.traceId, names);
    return { parent, result, spans };
  } finally {
    await client.close();
  }
}

/** The gateway's span of the upstream `port`, once it has arrived. */
async function egressSpan(port: number, method: string): Promise<ReceivedSpan> {
  await flush();
  const found = await receiver.waitFor(
    (spans) => {
      const matching = spans.filter(
        (s) => s.name === `egress ${method}` && s.attributes['server.port'] === port,
      );
      return matching.length > 0 ? matching : undefined;
    },
    () => `no egress span for port ${port}`,
  );
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('traces into a pack and out through the egress gateway', () => {
  it('one trace spans the client, the router, a cold start, the runtime, the tool and the pack', async () => {
    // The pack was enabled on a running container: remove it (the volume stays) so the call starts it cold.
    await stack.supervisor.manager.remove(TENANT, false);
    const pack = `pack tools/call ${TOOL}`;
    const { parent, result, spans } = await tracedCall(`http://127.0.0.1:${allowed.port}/v1/traced`, [
      `tools/call ${TOOL}`,
      'runtime ensure',
      pack,
    ]);
    expect(result.structuredContent).toEqual({ status: 200, body: 'hello from allowed' });

    const request = one(spans, `tools/call ${TOOL}`);
    expect(request.parentSpanId).toBe(parent.spanId);
    expect(request.resource['service.name']).toBe('bulkhead-router');
    expect(request.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': TOOL,
      'bulkhead.tenant': TENANT,
    });
    expect(request.attributes['error.type']).toBeUndefined();
    // A read: dispatch is the request span's step (a write's is under idempotency).
    const dispatch = spans.find((s) => s.name === 'dispatch' && s.parentSpanId === request.spanId);
    expect(dispatch, 'dispatch under the request').toBeDefined();

    const runtimeCall = expectColdStartAndCall(spans, dispatch!, TENANT);
    const tool = one(spans, `execute_tool ${TOOL}`);
    expect(tool.parentSpanId).toBe(runtimeCall.spanId);
    expect(tool.attributes).toMatchObject({ 'gen_ai.tool.name': TOOL, 'bulkhead.pack.name': 'fetcher' });
    const relay = one(spans, pack);
    expect(relay.parentSpanId).toBe(tool.spanId);
    expect(relay.kind).toBe(3); // CLIENT
    expect(relay.resource).toMatchObject({ 'service.name': 'bulkhead-runtime', 'bulkhead.tenant': TENANT });
    expect(relay.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': TOOL,
      'bulkhead.pack.name': 'fetcher',
      'bulkhead.pack.version': `0.0.0-${stack.ns.namespace.slice(-6)}`,
      'bulkhead.pack.tool': 'get',
    });
    expect(relay.attributes['error.type']).toBeUndefined();

    // The pack's downstream call: the gateway's own trace, linked to the pack span.
    const egress = await egressSpan(allowed.port, 'GET');
    expect(egress.traceId).not.toBe(parent.traceId);
    expect(egress.parentSpanId).toBeUndefined();
    expect(egress.resource['service.name']).toBe('bulkhead-egress');
    expect(egress.kind).toBe(3); // CLIENT
    expect(egress.attributes).toMatchObject({
      'bulkhead.tenant': TENANT,
      'bulkhead.pack.name': 'fetcher',
      'server.address': '127.0.0.1',
      'server.port': allowed.port,
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'bulkhead.egress.decision': 'permit',
      'bulkhead.egress.reason': 'forwarded',
    });
    expect(egress.attributes['bulkhead.egress.bytes_received']).toBeGreaterThan(0);
    expect(egress.attributes['error.type']).toBeUndefined();
    expect(egress.links).toEqual([
      {
        traceId: parent.traceId,
        spanId: relay.spanId,
        attributes: { 'bulkhead.link.basis': 'sole_pack_call_in_flight' },
      },
    ]);
    // Nothing of the request: its path is on no span.
    expect(JSON.stringify([...spans, egress])).not.toContain('/v1/traced');
  }, 180_000);

  it("a refused downstream call is the gateway's span with the refusal as error.type", async () => {
    const { result } = await tracedCall(`http://127.0.0.1:${refused.port}/v1/refused`, [
      `tools/call ${TOOL}`,
    ]);
    expect(result.structuredContent).toMatchObject({ status: 403 });
    const egress = await egressSpan(refused.port, 'GET');
    expect(egress.attributes).toMatchObject({
      'bulkhead.tenant': TENANT,
      'bulkhead.pack.name': 'fetcher',
      'bulkhead.egress.decision': 'deny',
      'http.response.status_code': 403,
      'error.type': 'egress_denied',
    });
    expect(refused.seen).toEqual([]);
  }, 60_000);

  it("a pack's failure is error.type on the pack span and on the request span", async () => {
    const pack = `pack tools/call ${TOOL}`;
    // Not a URL: the pack's fetch throws, and the pack answers with a JSON-RPC error.
    const { result, spans } = await tracedCall('not a url', [`tools/call ${TOOL}`, pack]);
    expect(result.isError).toBe(true);
    expect(one(spans, pack).attributes['error.type']).toBe('-32603');
    // The router answers the runtime's JSON-RPC error as a transient tool error.
    expect(one(spans, `tools/call ${TOOL}`).attributes['error.type']).toBe('transient');
  }, 60_000);
});
