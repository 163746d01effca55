// The egress gateway's spans (egress/egress-spans.ts) on real Redis and a real OTLP receiver, the
// bridge in this process as in test/support/egress.ts: one span per upstream request or tunnel with
// the tenant, the pack, the upstream and the bytes; a trace of its own; the bridge's link only on
// the first request of a connection opened through a pack's port while the runtime named that pack's
// only call, never on a kept-alive connection's next request nor through the tenant-wide port.
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../../kernel/telemetry/tracing.ts';
import {
  connectThroughLocal,
  startLocalEgress,
  startUpstream,
  type LocalEgress,
  type Upstream,
} from '../support/egress.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { newTraceparent } from '../support/trace-assertions.ts';

const PACK = 'files';
let receiver: OtlpReceiver;
let tracing: Tracing;
let upstream: Upstream;
let egress: LocalEgress;
/** What the runtime would answer for the pack's only call in flight (undefined: none or several). */
let soleCall: string | undefined;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  tracing = startTracing({ service: 'bulkhead-egress', endpoint: receiver.url })!;
  upstream = await startUpstream('traced');
  egress = await startLocalEgress({
    label: 'egress-spans',
    egress: { mode: 'allowlist', hosts: [`127.0.0.1:${upstream.port}`], packs: {}, upstreams: {} },
    packs: [PACK],
    linkOf: (pack) => (pack === PACK ? soleCall : undefined),
    tracing,
  });
  await egress.gateway.refresh();
}, 60_000);

afterAll(async () => {
  await egress?.close();
  await tracing?.shutdown();
  await upstream?.close();
  await receiver?.close();
});

/** GETs `paths` one after the other on one kept-alive connection to the bridge's `port`. */
async function getKeptAlive(port: number, paths: string[]): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const statuses: number[] = [];
  try {
    for (const path of paths) {
      statuses.push(
        await new Promise<number>((resolve, reject) => {
          const req = request(
            { host: '127.0.0.1', port, path: `http://127.0.0.1:${upstream.port}${path}`, agent },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end();
        }),
      );
    }
    return statuses;
  } finally {
    agent.destroy();
  }
}

/** The gateway's spans once `count` have arrived since `from`. */
async function spansAfter(from: number, count: number): Promise<ReceivedSpan[]> {
  for (let i = 0; i < 80; i++) {
    await tracing.flush();
    const spans = receiver.spans.slice(from);
    if (spans.length >= count) return spans;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`expected ${count} spans, got ${receiver.spans.length - from}`);
}

describe("the egress gateway's spans", () => {
  it("link a pack connection's first request to the pack's only call, and no later one", async () => {
    const call = newTraceparent();
    soleCall = call.traceparent;
    const from = receiver.spans.length;
    // Two requests on one connection, opened while the pack had that one call in flight.
    expect(await getKeptAlive(egress.port + 1, ['/first', '/second'])).toEqual([200, 200]);
    const spans = await spansAfter(from, 2);
    expect(spans.map((s) => s.name)).toEqual(['egress GET', 'egress GET']);
    for (const span of spans) {
      expect(span.resource['service.name']).toBe('bulkhead-egress');
      expect(span.traceId).not.toBe(call.traceId);
      expect(span.parentSpanId).toBeUndefined();
      expect(span.attributes).toMatchObject({
        'bulkhead.tenant': egress.tenant.id,
        'bulkhead.pack.name': PACK,
        'server.address': '127.0.0.1',
        'server.port': upstream.port,
        'http.request.method': 'GET',
        'http.response.status_code': 200,
        'bulkhead.egress.decision': 'permit',
        'bulkhead.egress.reason': 'forwarded',
      });
      expect(span.attributes['bulkhead.egress.bytes_received']).toBe('hello from traced'.length);
    }
    expect(spans[0]!.links).toEqual([
      {
        traceId: call.traceId,
        spanId: call.spanId,
        attributes: { 'bulkhead.link.basis': 'sole_pack_call_in_flight' },
      },
    ]);
    // A kept-alive connection's next request may serve another call: no link.
    expect(spans[1]!.links).toEqual([]);
    expect(JSON.stringify(spans)).not.toContain('/first');
  }, 30_000);

  it('link nothing when the pack had no single call in flight, or through the tenant-wide port', async () => {
    soleCall = undefined;
    const from = receiver.spans.length;
    expect(await getKeptAlive(egress.port + 1, ['/none'])).toEqual([200]);
    soleCall = newTraceparent().traceparent;
    expect(await getKeptAlive(egress.port, ['/tenant-wide'])).toEqual([200]);
    const spans = await spansAfter(from, 2);
    expect(spans.map((s) => [s.attributes['bulkhead.pack.name'], s.links])).toEqual([
      [PACK, []],
      [undefined, []],
    ]);
  }, 30_000);

  it('a refused tunnel carries its refusal; an opened one its bytes until it closes', async () => {
    soleCall = undefined;
    const from = receiver.spans.length;
    const denied = await connectThroughLocal(egress.port, '127.0.0.1:9');
    expect(denied.status).toBe(403);
    const opened = await connectThroughLocal(egress.port, `127.0.0.1:${upstream.port}`);
    expect(opened.status).toBe(200);
    const spans = await spansAfter(from, 2);
    const [refused, tunnel] = spans;
    expect(refused!.attributes).toMatchObject({
      'http.request.method': 'CONNECT',
      'server.port': 9,
      'bulkhead.egress.decision': 'deny',
      'http.response.status_code': 403,
      'error.type': 'egress_denied',
    });
    expect(tunnel!.attributes).toMatchObject({
      'http.request.method': 'CONNECT',
      'server.port': upstream.port,
      'bulkhead.egress.decision': 'permit',
      'bulkhead.egress.reason': 'tunnel',
    });
    expect(tunnel!.attributes['error.type']).toBeUndefined();
    expect(tunnel!.attributes['bulkhead.egress.bytes_sent']).toBeGreaterThan(0);
    expect(tunnel!.attributes['bulkhead.egress.bytes_received']).toBeGreaterThan(0);
  }, 30_000);
});
