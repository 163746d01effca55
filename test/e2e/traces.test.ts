// One trace from the agent into the tenant's container, received by a real OTLP/HTTP endpoint:
// the client's traceparent -> the router's request span and its steps -> the supervisor's cold
// start (through the BullMQ job) -> the tenant runtime's spans (returned with the answer through the
// router, the container has no network) -> the tool's span. And a hostile runtime's forged spans:
// another trace's, those not beneath the call's span or outside its time are dropped; the rest get
// the router's resource (the tenant forced). A client's unsampled flag keeps nothing out of the
// trace: the operator's ratio decides (1 here; ratio 0 in test/unit/request-trace.test.ts).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { mcpPost } from '../support/auth-harness.ts';
import { containerName } from '../support/mcp-client.ts';
import { FOREIGN_TRACE_ID, startHostileAnswer } from '../support/hostile-runtime.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import {
  expectColdStartAndCall,
  newTraceparent,
  one,
  tracedClient as tracedClientOf,
  traceWith as traceWithIn,
} from '../support/trace-assertions.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'traced';
const SECRET_TITLE = `title-${randomUUID()}`;
let stack: TestStack;
let receiver: OtlpReceiver;

const traceWith = (traceId: string, names: string[]) =>
  traceWithIn(receiver, () => stack.router.flushTraces(), traceId, names);
const tracedClient = (token: string, headers: Record<string, string> = {}) =>
  tracedClientOf(stack.mcpUrl, token, headers);

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  stack = await startTestStack('traces', {
    router: { otlpTracesEndpoint: receiver.url },
    supervisor: { otlpTracesEndpoint: receiver.url },
  });
  await stack.onboard(TENANT, { tools: openToAgentsAlone('all') });
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await receiver?.close();
});

describe('traces', () => {
  it('one trace spans the client, the router, a cold start, the runtime and the tool', async () => {
    // Onboarding started the container: remove it (the volume stays) so the call starts it cold.
    await stack.supervisor.manager.remove(TENANT, false);
    const token = await stack.agentToken(TENANT);
    const parent = newTraceparent();
    const client = await tracedClient(token, { traceparent: parent.traceparent });
    const result = await client.callTool({
      name: 'records_create',
      arguments: { title: SECRET_TITLE, idempotency_key: randomUUID() },
    });
    expect(result.isError).toBeFalsy();
    await client.close();

    const call = 'tools/call records_create';
    const spans = await traceWith(parent.traceId, [call, 'runtime ensure', 'execute_tool records_create']);
    const request = one(spans, call);
    expect(request.parentSpanId).toBe(parent.spanId);
    expect(request.kind).toBe(2); // SERVER
    expect(request.resource['service.name']).toBe('bulkhead-router');
    expect(request.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'mcp.protocol.version': '2026-07-28',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'records_create',
      'bulkhead.tenant': TENANT,
    });
    expect(request.attributes['jsonrpc.request.id']).toBeDefined();
    expect(request.attributes['error.type']).toBeUndefined();
    // Identities are off by default.
    expect(request.attributes['gen_ai.agent.id']).toBeUndefined();

    // The client sent its traceparent on server/discover too: that request has spans of its own.
    const stepOf = (name: string, parentId: string): ReceivedSpan => {
      const found = spans.filter((s) => s.name === name && s.parentSpanId === parentId);
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };
    for (const step of ['authentication', 'authorization', 'validation', 'rate_limit', 'audit'])
      stepOf(step, request.spanId);
    const dispatch = stepOf('dispatch', stepOf('idempotency', request.spanId).spanId);

    const runtimeCall = expectColdStartAndCall(spans, dispatch, TENANT);
    const tool = one(spans, 'execute_tool records_create');
    expect(tool.parentSpanId).toBe(runtimeCall.spanId);
    expect(tool.attributes).toMatchObject({
      'gen_ai.tool.name': 'records_create',
      'bulkhead.pack.name': 'records',
    });

    // Nothing sensitive: no argument value, no token, anywhere in the trace.
    const text = JSON.stringify(spans);
    expect(text).not.toContain(SECRET_TITLE);
    expect(text).not.toContain(token.slice(-40));
  }, 120_000);

  it('a traceparent in params._meta continues; a refused call carries its error class', async () => {
    const client = await tracedClient(await stack.agentToken(TENANT));
    const parent = newTraceparent();
    const invalid = await client.callTool({
      name: 'records_create',
      arguments: { title: 42 },
      _meta: { traceparent: parent.traceparent },
    });
    expect(invalid.isError).toBe(true);
    await client.close();
    const spans = await traceWith(parent.traceId, ['tools/call records_create', 'validation']);
    const request = one(spans, 'tools/call records_create');
    expect(request.parentSpanId).toBe(parent.spanId);
    expect(request.attributes['error.type']).toBe('validation');
    // Refused before dispatch: no span of the runtime or the supervisor.
    expect(spans.map((s) => s.name)).not.toContain('dispatch');
  }, 60_000);

  it('a method MCP does not define names no span: a request cannot choose span names', async () => {
    const chosen = `chosen\t${randomUUID()}`;
    const parent = newTraceparent();
    const answer = await mcpPost(
      stack.mcpUrl,
      await stack.agentToken(TENANT),
      { jsonrpc: '2.0', id: 1, method: chosen, params: {} },
      { headers: { traceparent: parent.traceparent } },
    );
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: -32601 } });
    const spans = await traceWith(parent.traceId, ['authentication']);
    const request = one(spans, 'mcp request');
    expect(request.parentSpanId).toBe(parent.spanId);
    expect(request.attributes).toMatchObject({ 'mcp.method.name': '_OTHER', 'error.type': '404' });
    // Neither a span's name nor any attribute carries what the request typed.
    expect(JSON.stringify(spans)).not.toContain(chosen.slice(-36));
  }, 60_000);

  it("keeps a hostile runtime's spans only beneath its call, in its time, whatever the client's sampled flag", async () => {
    // One call of a tenant the router has no route to yet: its first connection meets the hostile
    // server. The answer itself is not MCP: the call fails and the router stands.
    const hostileCall = async (tenant: string, traceparent: string) => {
      await stack.onboard(tenant, { tools: openToAgentsAlone('all') });
      const uid = (await stack.registry.get(tenant))?.uid;
      if (uid === undefined) throw new Error(`no tenant ${tenant}`);
      const container = stack.ns.docker.getContainer(containerName(stack, tenant));
      const hostile = await startHostileAnswer(container, { uid, mode: 'forged-spans', takeover: 'socket' });
      try {
        const client = await tracedClient(await stack.agentToken(tenant), { traceparent });
        const answer = await client.callTool({ name: 'records_get', arguments: { id: randomUUID() } });
        expect(answer.content).toEqual([
          { type: 'text', text: `transient: the runtime for ${tenant} failed during the call` },
        ]);
        await client.close();
      } finally {
        hostile.stop();
      }
    };
    const parent = newTraceparent();
    const forger = 'forger';
    await hostileCall(forger, parent.traceparent);
    const spans = await traceWith(parent.traceId, ['tools/call records_get', 'dispatch', 'forged-own']);
    const forged = one(spans, 'forged-own');
    expect(forged.resource).toMatchObject({
      'service.name': 'bulkhead-runtime',
      'bulkhead.tenant': forger,
    });
    expect(forged.attributes['bulkhead.tenant']).toBeUndefined();
    expect(forged.parentSpanId).toBe(one(spans, 'dispatch').spanId);
    // The router's span is its own, the client's trace keeps its one root beneath the client's
    // span, every span hangs beneath the call, and none lies outside it in time.
    const names = spans.map((s) => s.name);
    for (const name of ['forged-router', 'forged-root', 'forged-orphan', 'forged-times'])
      expect(names, name).not.toContain(name);
    const roots = spans.filter((s) => s.parentSpanId === parent.spanId || !s.parentSpanId);
    expect(roots.map((s) => [s.name, s.parentSpanId, s.resource['service.name']]).sort()).toEqual([
      ['server/discover', parent.spanId, 'bulkhead-router'],
      ['tools/call records_get', parent.spanId, 'bulkhead-router'],
    ]);
    await stack.router.flushTraces();
    expect(receiver.spans.some((s) => s.traceId === FOREIGN_TRACE_ID)).toBe(false);

    // A trace the client did not sample is the operator's to sample (ratio 1 here): the router
    // continues and records it, and keeps the runtime's span beneath the call.
    const unsampled = newTraceparent();
    await hostileCall('forger-unsampled', unsampled.traceparent.replace(/-01$/, '-00'));
    const continued = await traceWith(unsampled.traceId, [
      'tools/call records_get',
      'dispatch',
      'forged-own',
    ]);
    expect(one(continued, 'tools/call records_get').parentSpanId).toBe(unsampled.spanId);
    expect(one(continued, 'forged-own').parentSpanId).toBe(one(continued, 'dispatch').spanId);
    expect(receiver.rejected).toBe(0);
    expect((await fetch(new URL('/healthz', stack.mcpUrl))).status).toBe(200);
  }, 90_000);
});

describe('traces at ratio 0', () => {
  it("records no span of a call whose client's traceparent asks for it sampled", async () => {
    const zero = await startTestStack('traces-zero', {
      router: { otlpTracesEndpoint: receiver.url, traceSampleRatio: 0 },
    });
    try {
      await zero.onboard('unforced', { tools: openToAgentsAlone('all') });
      const parent = newTraceparent();
      const client = await tracedClientOf(zero.mcpUrl, await zero.agentToken('unforced'), {
        traceparent: parent.traceparent,
      });
      const answer = await client.callTool({ name: 'records_get', arguments: { id: randomUUID() } });
      expect(answer.isError).toBeTruthy();
      await client.close();
      await zero.router.flushTraces();
      expect(receiver.spans.filter((s) => s.traceId === parent.traceId)).toEqual([]);
    } finally {
      await zero.close();
    }
  }, 90_000);
});
