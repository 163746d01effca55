// One trace from the agent into the tenant's container, received by a real OTLP/HTTP endpoint:
// the client's traceparent -> the router's request span and its steps -> the supervisor's cold
// start (through the BullMQ job) -> the tenant runtime's spans (returned with the answer through the
// router, the container has no network) -> the tool's span. And a hostile runtime's forged spans:
// another trace's are dropped, its own trace's get the router's resource (the tenant forced).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
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

  it("drops a hostile runtime's span of another trace and forces the tenant on its own", async () => {
    // A tenant the router has no route to yet: its first connection meets the hostile server.
    const forger = 'forger';
    await stack.onboard(forger, { tools: openToAgentsAlone('all') });
    const uid = (await stack.registry.get(forger))?.uid;
    if (uid === undefined) throw new Error(`no tenant ${forger}`);
    const hostile = await startHostileAnswer(stack.ns.docker.getContainer(containerName(stack, forger)), {
      uid,
      mode: 'forged-spans',
      takeover: 'socket',
    });
    try {
      const parent = newTraceparent();
      const client = await tracedClient(await stack.agentToken(forger), { traceparent: parent.traceparent });
      // The answer itself is not MCP: the call fails, the router stands.
      const answer = await client
        .callTool({ name: 'records_get', arguments: { id: randomUUID() } })
        .catch((error: unknown) => ({ isError: true, error }));
      expect(answer.isError).toBe(true);
      await client.close();
      const spans = await traceWith(parent.traceId, ['tools/call records_get', 'forged-own']);
      const forged = one(spans, 'forged-own');
      expect(forged.resource).toMatchObject({
        'service.name': 'bulkhead-runtime',
        'bulkhead.tenant': forger,
      });
      expect(forged.attributes['bulkhead.tenant']).toBeUndefined();
      await stack.router.flushTraces();
      expect(receiver.spans.some((s) => s.traceId === FOREIGN_TRACE_ID)).toBe(false);
      expect(receiver.rejected).toBe(0);
      expect((await fetch(new URL('/healthz', stack.mcpUrl))).status).toBe(200);
    } finally {
      hostile.stop();
    }
  }, 90_000);
});
