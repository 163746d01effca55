// The pack span inside the tenant runtime (runtime-image/src/tracing/pack-span.ts), on the real
// engine: a traced call to a pack tool returns, with its answer, the runtime's call span, the tool's
// `execute_tool` span and under it the relay to the pack, naming the pack, its version and the tool,
// with `error.type` for each way a pack fails (a crash, a timeout, a JSON-RPC error, its own error
// result) and nothing of the arguments; a resource read relayed to a pack gets its own pack span.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRuntimeSpans, RUNTIME_SPANS_HEADER } from '../../kernel/telemetry/runtime-spans.ts';
import { serviceResource } from '../../kernel/telemetry/tracing.ts';
import { MAX_RELAYED_BYTES_PER_CALL } from '../../runtime-image/src/packs/pack-relay.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { approvePack, buildPackImage, removeImage, runtimeClient } from '../support/pack-image.ts';
import { packTenants, type PackTenants } from '../support/pack-tenants.ts';

const TENANT = 'spans-a';
const CALL_TIMEOUT_MS = 2_000;
let ns: TestNamespace;
let tenants: PackTenants;
let image: string | undefined;
let socketPath: string;

beforeAll(async () => {
  ns = await testNamespace('pack-spans');
  image = await buildPackImage({
    tag: `${ns.namespace}-faulty`,
    packs: [await approvePack('faulty'), await approvePack('notes')],
    env: { BULKHEAD_PACK_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS), BULKHEAD_PACK_CRASH_THRESHOLD: '50' },
  });
  tenants = await packTenants(ns);
  socketPath = await tenants.start(TENANT, 100_451, image);
}, 120_000);

afterAll(async () => {
  await ns?.cleanup();
  if (image) await removeImage(image);
});

/** One traced tools/call: the spans the runtime returned with its answers, and what the call got. */
function traced(
  name: string,
  args: Record<string, unknown> = {},
): Promise<{ spans: ReadableSpan[]; outcome: unknown; traceId: string }> {
  return tracedRequest((client) => client.callTool({ name, arguments: args }));
}

/** One traced request of `send`: the spans the runtime returned with its answers, and what it got. */
async function tracedRequest(
  send: (client: Client) => Promise<unknown>,
): Promise<{ spans: ReadableSpan[]; outcome: unknown; traceId: string }> {
  const traceId = randomBytes(16).toString('hex');
  const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
  const spans: ReadableSpan[] = [];
  const sentAt = Date.now();
  const client = await runtimeClient({
    socketPath,
    sign: tenants.sign,
    context: {
      tenant: TENANT,
      user: 'alice',
      agent: 'agent-1',
      scopes: [],
      packs: ['notes', 'faulty'],
      trace: traceparent,
    },
    onResponse(headers) {
      const value = headers.get(RUNTIME_SPANS_HEADER);
      if (!value) return;
      const exchange = { sentAt, answeredAt: Date.now() };
      spans.push(
        ...decodeRuntimeSpans(value, { traceparent, exchange, resource: serviceResource('test') }).spans,
      );
    },
  });
  try {
    const outcome = await send(client).catch((error: unknown) => ({ thrown: error }));
    return { spans, outcome, traceId };
  } finally {
    await client.close();
  }
}

function named(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found, `${name} in ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
  return found[0]!;
}

describe('the pack span', () => {
  it("is the tool span's child, names the pack, its version and the tool, and nothing of the call", async () => {
    const secret = `secret-${randomUUID()}`;
    const { spans, outcome } = await traced('faulty_ok', { note: secret });
    expect((outcome as { isError?: boolean }).isError).toBeFalsy();
    const call = named(spans, 'runtime tools/call');
    const tool = named(spans, 'execute_tool faulty_ok');
    const pack = named(spans, 'pack tools/call faulty_ok');
    expect(tool.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    expect(pack.parentSpanContext?.spanId).toBe(tool.spanContext().spanId);
    expect(pack.kind).toBe(2); // CLIENT
    expect(pack.attributes).toEqual({
      'mcp.method.name': 'tools/call',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'faulty_ok',
      'bulkhead.pack.name': 'faulty',
      'bulkhead.pack.version': '1.0.0',
      'bulkhead.pack.tool': 'ok',
    });
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(secret);
  }, 60_000);

  it('names a crash, a timeout, a JSON-RPC error and the restart that follows', async () => {
    const crash = await traced('faulty_crash', { idempotency_key: randomUUID() });
    expect(named(crash.spans, 'pack tools/call faulty_crash').attributes['error.type']).toBe('pack_exited');

    // The crashed pack is started again by the next call, and that call's span says so.
    const next = await traced('faulty_ok');
    const restarted = named(next.spans, 'pack tools/call faulty_ok');
    expect(restarted.attributes['error.type']).toBeUndefined();
    expect(restarted.attributes['bulkhead.pack.started']).toBe(true);

    const hang = await traced('faulty_hang');
    expect(named(hang.spans, 'pack tools/call faulty_hang').attributes['error.type']).toBe('pack_timeout');

    const refused = await traced('faulty_refuse');
    expect(refused.outcome).toHaveProperty('thrown');
    const span = named(refused.spans, 'pack tools/call faulty_refuse');
    expect(span.attributes['error.type']).toBe('-32602');
    expect(span.status.code).toBe(2); // ERROR
  }, 60_000);

  it("relays a call's notifications up to its budget, drops the rest, and answers with the same pack", async () => {
    const before = (await traced('faulty_ok')).outcome as { structuredContent?: { pid?: number } };
    let logged = 0;
    const { spans, outcome } = await tracedRequest((client) => {
      client.setNotificationHandler('notifications/message', () => void logged++);
      return client.callTool({ name: 'faulty_chatty', arguments: {} });
    });
    // 12 log messages of a little over 256 KiB each (3 MiB, in a container of 128 MiB of which its
    // four processes use about 97 at rest): the budget (1 MiB) relays the first 3.
    expect(MAX_RELAYED_BYTES_PER_CALL).toBe(1024 * 1024);
    expect(outcome).toMatchObject({ structuredContent: { ok: true, pid: before.structuredContent?.pid } });
    expect(logged).toBe(3);
    expect(named(spans, 'pack tools/call faulty_chatty').attributes['error.type']).toBeUndefined();
    const after = (await traced('faulty_ok')).outcome as { structuredContent?: { pid?: number } };
    expect(after.structuredContent?.pid).toBe(before.structuredContent?.pid);
  }, 60_000);

  it("relays a resource read in a span of its own under the runtime's call span, without the URI", async () => {
    const { spans, outcome } = await tracedRequest((client) =>
      client.readResource({ uri: 'notes://readme' }),
    );
    expect(outcome).toMatchObject({ contents: [{ text: 'notes pack' }] });
    const call = named(spans, 'runtime resources/read');
    const read = named(spans, 'pack resources/read');
    expect(read.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    expect(read.attributes).toEqual({
      'mcp.method.name': 'resources/read',
      'bulkhead.pack.name': 'notes',
      'bulkhead.pack.version': '1.0.0',
    });
  }, 30_000);

  it('ends the span of a round that asks the client a question; the retry gets its own', async () => {
    const { spans, outcome } = await tracedRequest((client) => {
      // The SDK's own driver: it answers the question and retries with the answer (same trace).
      client.setRequestHandler('elicitation/create', () =>
        Promise.resolve({ action: 'accept' as const, content: { name: 'Ada' } }),
      );
      return client.callTool({ name: 'notes_ask', arguments: {} });
    });
    expect(outcome).toMatchObject({ structuredContent: { action: 'accept', content: { name: 'Ada' } } });
    const rounds = spans.filter((s) => s.name === 'pack tools/call notes_ask');
    expect(rounds.map((s) => s.attributes['bulkhead.pack.asked'])).toEqual(['elicitation/create', undefined]);
    expect(rounds.map((s) => s.attributes['error.type'])).toEqual([undefined, undefined]);
  }, 30_000);
});
