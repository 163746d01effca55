// Helpers of the trace tests: an MCP client that sends a traceparent, a new traceparent, and the
// spans of one trace once they have all reached the OTLP receiver.
import { randomBytes } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { expect } from 'vitest';
import type { OtlpReceiver, ReceivedSpan } from './otlp-receiver.ts';

export async function tracedClient(
  mcpUrl: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<Client> {
  const client = new Client(
    { name: 'test', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
      requestInit: { headers },
    }),
  );
  return client;
}

export function newTraceparent(): { traceparent: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceparent: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** The spans of a trace once `names` have all arrived (the exporters send in batches; `flush` hurries them). */
export async function traceWith(
  receiver: OtlpReceiver,
  flush: () => Promise<void>,
  traceId: string,
  names: string[],
): Promise<ReceivedSpan[]> {
  await flush();
  const ofTrace = (spans: ReceivedSpan[]) => spans.filter((s) => s.traceId === traceId);
  return receiver.waitFor(
    (spans) => {
      const trace = ofTrace(spans);
      return names.every((n) => trace.some((s) => s.name === n)) ? trace : undefined;
    },
    () =>
      `missing spans; got ${ofTrace(receiver.spans)
        .map((s) => s.name)
        .join(', ')}`,
  );
}

/** The one span of that name. */
export function one(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
}

/**
 * Under the router's `dispatch` span: the supervisor's cold start of the tenant's runtime and the
 * runtime's call span, exported by the router under the tenant's resource. Returns the call span.
 */
export function expectColdStartAndCall(
  spans: ReceivedSpan[],
  dispatch: ReceivedSpan,
  tenant: string,
): ReceivedSpan {
  const ensure = one(spans, 'runtime ensure');
  expect(ensure.parentSpanId).toBe(dispatch.spanId);
  expect(ensure.resource['service.name']).toBe('bulkhead-supervisor');
  expect(ensure.attributes).toMatchObject({
    'bulkhead.tenant': tenant,
    'bulkhead.runtime.start': 'create',
  });
  expect(ensure.events).toContain('cold start');

  const runtimeCall = one(spans, 'runtime tools/call');
  expect(runtimeCall.parentSpanId).toBe(dispatch.spanId);
  expect(runtimeCall.resource).toMatchObject({
    'service.name': 'bulkhead-runtime',
    'bulkhead.tenant': tenant,
  });
  return runtimeCall;
}
